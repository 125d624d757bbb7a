"""Pointwise judge scoring for evaluation: strict score parsing, re-asks, and a resumable score log.

Reply contract: after any reasoning, the judge's last non-empty line is one JSON object holding
exactly the requested keys, each an integer in range (``{"score": 7}``). ``<think>`` blocks are
removed first and a closing Markdown code fence after the line is ignored; nothing else is
forgiven. An unparseable reply is re-asked (``eval_reask.txt``, naming the problem) at most
``max_reasks`` times; after that the score is *failed*, reported with its id, never defaulted.

Every finished score (or failure) is appended to a JSON-lines log keyed by a hash of everything
that determines it (judge model, temperature, max tokens, template text, question, response,
criterion), so a rerun never pays twice for a score; failures are retried on the next run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..judge.client import JudgeClient
from ..judge.settings import JudgeSettings
from ..judge.templates import Template, load_named
from ..judge.text import Truncated, neutralise, new_nonce, strip_reasoning, truncate_middle
from ..redact import public_url
from .files import JsonlLog
from .runner import gather_or_cancel, progress

_FENCE = "```"


class ScoreParseError(ValueError):
    """The judge's reply does not end with the required JSON line; the message says why."""


def parse_scores(text: str, keys: Sequence[str], lo: int, hi: int) -> dict[str, int]:
    """Parse the last line of a judge reply under the strict contract in the module docstring."""
    lines = [ln.strip() for ln in strip_reasoning(text or "").splitlines() if ln.strip()]
    while lines and lines[-1] == _FENCE:
        lines.pop()
    if not lines:
        raise ScoreParseError("the reply is empty")
    last = lines[-1].strip("`").strip()
    if last.lower().startswith("json"):
        last = last[4:].strip()
    try:
        obj = json.loads(last)
    except json.JSONDecodeError:
        raise ScoreParseError(f"the last line is not a JSON object: {lines[-1][:120]!r}") from None
    if not isinstance(obj, dict):
        raise ScoreParseError(f"the last line is JSON but not an object: {lines[-1][:120]!r}")
    missing = [k for k in keys if k not in obj]
    extra = [k for k in obj if k not in keys]
    if missing or extra:
        parts = ([f"missing key(s) {missing}"] if missing else []) + ([f"unexpected key(s) {extra}"] if extra else [])
        raise ScoreParseError("; ".join(parts))
    for k in keys:
        v = obj[k]
        if isinstance(v, bool) or not isinstance(v, int):
            raise ScoreParseError(f"{k!r} must be an integer, got {v!r}")
        if not lo <= v <= hi:
            raise ScoreParseError(f"{k!r} = {v} is outside {lo}..{hi}")
    return {k: obj[k] for k in keys}


def format_line(keys: Sequence[str], lo: int, hi: int) -> str:
    """The required last line, for prompts: ``{"score": <integer 1-10>}``."""
    return "{" + ", ".join(f'"{k}": <integer {lo}-{hi}>' for k in keys) + "}"


def sha(*parts: Any) -> str:
    """A stable key for a tuple of JSON-able parts."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=64)
def _judged_text(response: str, budget: int) -> Truncated:
    """Cleaned once per response, though a checklist judges it once per criterion."""
    return truncate_middle(neutralise(strip_reasoning(response)), budget)


@dataclass
class ScoreJob:
    """One judge call to make: its cache key, the row id, a prompt renderer, extra fields to log."""

    key: str
    id: str
    render: Callable[[], str]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stats:
    calls: int = 0
    cached: int = 0
    failed: int = 0
    reasks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0


class Scorer:
    """Scores responses with one template, one key set and range, one client and one score log."""

    def __init__(
        self,
        settings: JudgeSettings,
        template: Template,
        keys: Sequence[str],
        lo: int,
        hi: int,
        log_path: str | Path,
        *,
        client: JudgeClient | None = None,
        max_reasks: int = 2,
        show_progress: bool = True,
        reask_template: Template | None = None,
    ) -> None:
        self.settings = settings
        self.template = template
        self.keys = tuple(keys)
        self.lo, self.hi = lo, hi
        self.log_path = Path(log_path)
        self._client = client
        self.max_reasks = max_reasks
        self.show_progress = show_progress
        self.reask = reask_template or load_named("eval_reask.txt", {"problem", "format"}, {"problem", "format"})
        self.stats = Stats()

    def key(self, *parts: Any) -> str:
        s = self.settings
        return sha(s.model, s.temperature, s.max_tokens, self.template.text, self.keys, self.lo, self.hi, *parts)

    def wrap(self, response: str) -> str:
        """The response as the judge sees it: reasoning removed, neutralised, truncated, delimited."""
        nonce = new_nonce()
        return f"<<<RESPONSE {nonce}>>>\n{_judged_text(response, self.settings.max_candidate_chars).text}\n" \
               f"<<<END OF RESPONSE {nonce}>>>"

    def truncated(self, response: str) -> bool:
        """Whether the judge sees this response cut in the middle (over ``max_candidate_chars``)."""
        return _judged_text(response, self.settings.max_candidate_chars).truncated

    def render(self, question: str, response: str, **extra: str) -> str:
        """Fill the template; values for slots an edited template dropped (``{format}``) are ignored."""
        values = {"question": question, "response": self.wrap(response),
                  "format": format_line(self.keys, self.lo, self.hi), **extra}
        return self.template.render(**{k: v for k, v in values.items() if k in self.template.slots})

    def settings_record(self) -> dict[str, Any]:
        s = self.settings
        return {
            "model": s.model, "backend": s.backend, "base_url": public_url(s.base_url),
            "temperature": s.temperature, "max_tokens": s.max_tokens, "max_candidate_chars": s.max_candidate_chars,
            "template": self.template.source,
            "template_sha256": text_sha(self.template.text),
            "reask_template": self.reask.source, "max_reasks": self.max_reasks,
        }

    async def _ask(self, client: JudgeClient, prompt: str) -> dict[str, Any]:
        messages = [{"role": "user", "content": prompt}]
        rec: dict[str, Any] = {"ok": False, "scores": None, "error": None, "raw": None, "attempts": 0, "reasks": 0}
        for round_ in range(self.max_reasks + 1):
            res = await client.chat(messages)
            rec["attempts"] += res.attempts
            self.stats.calls += res.attempts
            self.stats.prompt_tokens += res.prompt_tokens
            self.stats.completion_tokens += res.completion_tokens
            if not res.ok:
                rec["error"] = res.error
                return rec
            rec["raw"] = res.text
            try:
                rec["scores"] = parse_scores(res.text or "", self.keys, self.lo, self.hi)
                rec["ok"], rec["error"] = True, None
                return rec
            except ScoreParseError as e:
                rec["error"] = f"unparseable score reply: {e}"
                if round_ == self.max_reasks:
                    break
                rec["reasks"] += 1
                self.stats.reasks += 1
                follow = self.reask.render(problem=str(e), format=format_line(self.keys, self.lo, self.hi))
                messages = [*messages, {"role": "assistant", "content": res.text or ""},
                            {"role": "user", "content": follow}]
        return rec

    async def run(self, jobs: list[ScoreJob], desc: str) -> dict[str, dict[str, Any]]:
        """Score every job (cached ones from the log); returns key -> log record."""
        start = time.monotonic()
        log = JsonlLog(self.log_path, "score log")
        done: dict[str, dict[str, Any]] = {}
        for r in log.records:
            if r.get("ok") or r.get("key") not in done:
                done[str(r.get("key"))] = r
        results = {j.key: done[j.key] for j in jobs if done.get(j.key, {}).get("ok")}
        self.stats.cached += len(results)
        todo, seen = [], set(results)
        for j in jobs:
            if j.key not in seen:
                seen.add(j.key)
                todo.append(j)
        client = self._client or JudgeClient(self.settings)
        bar = progress(len(todo), desc, self.show_progress)

        async def one(job: ScoreJob) -> None:
            rec = await self._ask(client, job.render())
            rec = {"key": job.key, "id": job.id, **job.meta, **rec}
            log.append(rec)
            results[job.key] = rec
            if not rec["ok"]:
                self.stats.failed += 1
            bar.update()

        try:
            await gather_or_cancel(one(j) for j in todo)
        finally:
            bar.close()
            log.close()
            if self._client is None:
                await client.close()
            self.stats.wall_s += time.monotonic() - start
        return results
