"""Pointwise judge scoring for evaluation: one template and key set, re-asks, and a resumable score log.

Reply contract (the flat shape of ``writing_rl.calls.scores``): after any reasoning, the judge's
last non-empty line is one JSON object holding exactly the requested keys, each an integer in range
(``{"score": 7}``). An unparseable reply is re-asked as a follow-up (``eval_reask.txt``, naming the
problem) at most ``max_reasks`` times; after that the score is *failed*, reported with its id,
never defaulted.

Every finished score (or failure) is appended to a JSON-lines log keyed by a hash of everything
that determines it (judge model, temperature, max tokens, template text, question, response,
criterion), so a rerun never pays twice for a score; failures are retried on the next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..calls.endpoint import make_client
from ..calls.log import ResultLog, sha
from ..calls.runner import Caller, RunStats, run_jobs
from ..calls.scores import Messages, ask_scores, format_line
from ..judge.client import JudgeClient
from ..judge.settings import JudgeSettings
from ..judge.templates import Template, load_named
from ..judge.text import Truncated, neutralize, new_nonce, strip_reasoning, truncate_middle
from ..redact import public_url


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def report_stats(stats: RunStats) -> dict[str, Any]:
    """The judge's work as evaluation reports show it (``calls`` counts every attempt)."""
    return {"calls": stats.attempts, "cached": stats.cached, "failed": stats.failed, "reasks": stats.reasks,
            "prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
            "wall_s": stats.wall_s}


@lru_cache(maxsize=64)
def _judged_text(response: str, budget: int) -> Truncated:
    """Cleaned once per response, though a checklist judges it once per criterion."""
    return truncate_middle(neutralize(strip_reasoning(response)), budget)


@dataclass
class ScoreJob:
    """One judge call to make: its cache key, the row id, a prompt renderer, extra fields to log."""

    key: str
    id: str
    render: Callable[[], str]
    meta: dict[str, Any] = field(default_factory=dict)


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
        self.stats = RunStats("score")

    def key(self, *parts: Any) -> str:
        s = self.settings
        return sha(s.model, s.temperature, s.max_tokens, self.template.text, self.keys, self.lo, self.hi, *parts)

    def wrap(self, response: str) -> str:
        """The response as the judge sees it: reasoning removed, neutralized, truncated, delimited."""
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

    def _follow_up(self, messages: Messages, reply: str, problem: str) -> Messages:
        follow = self.reask.render(problem=problem, format=format_line(self.keys, self.lo, self.hi))
        return [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": follow}]

    async def _ask(self, caller: Caller, client: JudgeClient, prompt: str) -> dict[str, Any]:
        asked = await ask_scores(lambda m: caller.chat(client, m), lambda: [{"role": "user", "content": prompt}],
                                 self.keys, self.lo, self.hi, max_reasks=self.max_reasks, follow_up=self._follow_up)
        assert asked is not None  # no budget here: every call is sent
        self.stats.reasks += asked.reasks
        error = asked.call_error or (None if asked.scores else f"unparseable score reply: {asked.problems[-1]}")
        return {"ok": asked.scores is not None, "scores": asked.scores, "error": error,
                "raw": asked.raw, "attempts": asked.attempts, "reasks": asked.reasks}

    async def run(self, jobs: list[ScoreJob], desc: str) -> dict[str, dict[str, Any]]:
        """Score every job (cached ones from the log); returns key -> log record."""
        log = ResultLog(self.log_path, "score log")
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
        client = self._client or make_client(self.settings)
        caller = Caller(self.stats)

        async def one(job: ScoreJob) -> bool:
            rec = {"key": job.key, "id": job.id, **job.meta, **await self._ask(caller, client, job.render())}
            log.append(rec)
            results[job.key] = rec
            return bool(rec["ok"])

        self.stats.stage = desc
        try:
            await run_jobs(todo, one, concurrency=self.settings.concurrency, stats=self.stats,
                           progress_bar=self.show_progress, unit="call")
        finally:
            log.close()
            if self._client is None:
                await client.close()
        return results
