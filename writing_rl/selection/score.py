"""Pointwise scoring: one judge call grades one response 1-10 on several dimensions.

Dimensions come from the instruction's own criteria when it has them (WritingBench checklists:
keys ``c1``..``cN``, rubric bands included), else from the ``@dimension key: description`` lines
of the default template ``prompts/score_pointwise.txt`` (edit them, or pass your own file).

The reply must end with a JSON object ``{"scores": {"<key>": <int 1-10>, ...}}``, read strictly by
``writing_rl.calls.scores`` (the wrapped shape): exactly the requested keys, whole numbers from 1 to
10. Anything else is re-asked afresh, then recorded as failed with the reasons; a score is never
filled in with a default. The response's score is the mean over keys.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..calls.endpoint import open_clients
from ..calls.log import ResultLog
from ..calls.runner import Budget, Caller, RunStats, run_jobs
from ..calls.scores import ask_scores
from ..judge.errors import TemplateError
from ..judge.templates import PROMPTS_DIR, Template, parse_template, read_text_file
from ..judge.text import neutralize, new_nonce, truncate_middle, wrap_answer
from .generate import response_ok
from .inputs import Instruction
from .models import ModelsConfig, ModelSpec, SelectionError

_DIM_LINE = re.compile(r"^@dimension[ \t]+([a-z][a-z0-9_]*)[ \t]*:[ \t]*(\S.*)$")
_BAND = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
SCORE_SLOTS = {"question", "answer", "dimensions", "reply_format"}


@dataclass(frozen=True)
class Dimension:
    key: str
    description: str
    title: str = ""
    bands: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ScoreTemplates:
    default: Template
    criteria: Template
    dimensions: tuple[Dimension, ...]
    fingerprint: str


def _split_dimensions(text: str, source: str) -> tuple[str, list[Dimension]]:
    body, dims = [], []
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        if line.startswith("@"):
            m = _DIM_LINE.match(line.rstrip("\r\n"))
            if not m:
                raise SelectionError(
                    f"{source}:{n}: a line starting with '@' must read '@dimension key: description' "
                    "(key in lowercase letters, digits and _)"
                )
            if any(d.key == m.group(1) for d in dims):
                raise SelectionError(f"{source}:{n}: dimension {m.group(1)!r} is defined twice")
            dims.append(Dimension(m.group(1), m.group(2).strip()))
        else:
            body.append(line)
    return "".join(body), dims


def load_score_templates(path: str | Path | None = None, criteria_path: str | Path | None = None) -> ScoreTemplates:
    """Load the two scoring templates (the packaged ones unless paths are given)."""
    p = Path(path) if path else PROMPTS_DIR / "score_pointwise.txt"
    cp = Path(criteria_path) if criteria_path else PROMPTS_DIR / "score_criteria.txt"
    try:
        text, ctext = read_text_file(p, "score template"), read_text_file(cp, "criteria score template")
        body, dims = _split_dimensions(text, str(p))
        if not dims:
            raise SelectionError(f"{p}: define at least one '@dimension key: description' line")
        cbody, cdims = _split_dimensions(ctext, str(cp))
        if cdims:
            raise SelectionError(
                f"{cp}: the criteria template takes its dimensions from each instruction's criteria; "
                "remove its @dimension lines"
            )
        default = parse_template(body, str(p), SCORE_SLOTS, SCORE_SLOTS)
        criteria = parse_template(cbody, str(cp), SCORE_SLOTS, SCORE_SLOTS)
    except (FileNotFoundError, TemplateError) as e:
        raise SelectionError(str(e)) from None
    fp = hashlib.sha256((text + "\0" + ctext).encode("utf-8")).hexdigest()[:16]
    return ScoreTemplates(default, criteria, tuple(dims), fp)


def criteria_dimensions(criteria: Any) -> tuple[Dimension, ...]:
    """Dimensions ``c1``..``cN`` from an instruction's criteria (text, strings, or checklist dicts)."""
    if criteria is None:
        return ()
    items = [criteria] if isinstance(criteria, (str, dict)) else list(criteria)
    dims = []
    for i, c in enumerate(items, 1):
        if isinstance(c, dict):
            bands = tuple(
                sorted(((k.replace(" ", ""), str(v).strip()) for k, v in c.items() if _BAND.match(str(k))),
                       key=lambda kv: int(kv[0].split("-")[0]))
            )
            dims.append(Dimension(
                f"c{i}", str(c.get("criteria_description") or c.get("description") or "").strip(),
                str(c.get("name") or c.get("title") or "").strip(), bands,
            ))
        else:
            dims.append(Dimension(f"c{i}", str(c).strip()))
    return tuple(dims)


def render_dimensions(dims: tuple[Dimension, ...]) -> str:
    lines = []
    for d in dims:
        head = f"- {d.key}" + (f" ({d.title})" if d.title else "")
        lines.append(f"{head}: {d.description}" if d.description else head)
        lines.extend(f"    {band}: {text}" for band, text in d.bands)
    return neutralize("\n".join(lines))


def reply_format(dims: tuple[Dimension, ...]) -> str:
    return '{"scores": {' + ", ".join(f'"{d.key}": N' for d in dims) + "}}"


class PointwiseScorer:
    """Renders scoring prompts for one judge and one pair of templates."""

    def __init__(self, templates: ScoreTemplates, judge_model: str, max_chars: int) -> None:
        self.templates = templates
        self.judge_model = judge_model
        self.max_chars = max_chars

    def dimensions(self, criteria: Any) -> tuple[Dimension, ...]:
        return criteria_dimensions(criteria) or self.templates.dimensions

    def render(self, question: str, answer: str, criteria: Any) -> str:
        dims = criteria_dimensions(criteria)
        tpl = self.templates.criteria if dims else self.templates.default
        dims = dims or self.templates.dimensions
        text = truncate_middle(neutralize(answer), self.max_chars).text
        return tpl.render(
            question=neutralize(question), answer=wrap_answer("R", text, new_nonce()),
            dimensions=render_dimensions(dims), reply_format=reply_format(dims),
        )

    def basis(self, question: str, answer: str, criteria: Any) -> str:
        """A hash of everything a score depends on: a cached score is valid only while it matches."""
        h = hashlib.sha256()
        for part in (self.judge_model, self.templates.fingerprint, question,
                     json.dumps(criteria, ensure_ascii=False, sort_keys=True), answer):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()[:24]


def score_ok(rec: dict[str, Any] | None, basis: str) -> bool:
    """Whether a cached score is usable: it succeeded and was given to exactly this response."""
    return bool(rec and rec.get("ok") and rec.get("basis") == basis and isinstance(rec.get("score"), (int, float)))


async def score_stage(
    instructions: list[Instruction],
    models: ModelsConfig,
    judge: ModelSpec,
    scorer: PointwiseScorer,
    responses: ResultLog,
    cache: ResultLog,
    stats: RunStats,
    budget: Budget,
    *,
    concurrency: int,
    parse_retries: int = 2,
    progress: bool = True,
) -> None:
    """Score every usable response that has no valid score yet; a malformed reply is re-asked."""
    jobs = []
    for instr in instructions:
        for spec in models.generators:
            rec = responses.get(instr.id, spec.name)
            if not response_ok(rec, instr, spec):
                continue  # nothing to score; selection reports it as failed or incomplete
            stats.items += 1
            basis = scorer.basis(instr.prompt, rec["text"], instr.criteria)  # type: ignore[index]
            if score_ok(cache.get(instr.id, spec.name), basis):
                stats.cached += 1
            else:
                jobs.append((instr, spec, rec["text"], basis))  # type: ignore[index]
    if not jobs:
        return
    caller = Caller(stats, budget)

    async def work(job: tuple[Instruction, ModelSpec, str, str]) -> bool | None:
        instr, spec, text, basis = job
        keys = [d.key for d in scorer.dimensions(instr.criteria)]
        asked = await ask_scores(
            lambda messages: caller.chat(client, messages, price=judge.cost, label=judge.label),
            lambda: [{"role": "user", "content": scorer.render(instr.prompt, text, instr.criteria)}],
            keys, envelope="scores", max_reasks=parse_retries,
        )
        if asked is None:
            return None
        scores, pt, ct = asked.scores, asked.prompt_tokens, asked.completion_tokens
        stats.reasks += asked.reasks
        cache.append({
            "id": instr.id, "model": spec.name, "ok": scores is not None,
            "score": round(sum(scores.values()) / len(scores), 6) if scores else None,
            "scores": scores, "error": None if scores else "; ".join(asked.problems), "problems": asked.problems,
            "basis": basis, "judge": judge.settings.model, "raw": asked.raw, "calls": asked.calls,
            "attempts": asked.attempts, "prompt_tokens": pt, "completion_tokens": ct,
            "cost": round(judge.cost(pt, ct), 8), "time": time.time(),
        })
        return scores is not None

    async with open_clients({judge.name: (judge.settings, judge.label)}) as clients:
        client = clients[judge.name]
        await run_jobs(jobs, work, concurrency=concurrency, stats=stats, budget=budget, progress_bar=progress)
