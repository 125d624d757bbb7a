"""LongBench-Write: length score S_l, judged quality S_q over six dimensions, by required-length bucket.

Per item: S_l from ``lengths.length_score`` on the answer (reasoning blocks removed first);
S_q = mean over the six dimensions of (score − 1)·25, each dimension judged 1–5; S = (S_l + S_q)/2.
Aggregates are means over items; S = (S_l + S_q)/2 of those means, as the benchmark reports.
Items without a response, and quality judgments that failed, are excluded and listed with their
ids, never given a default score.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from ..judge.templates import Template, load_named
from ..judge.text import strip_reasoning
from ..textstats import count_words
from .data import EvalInputError, Item, ResponseRecord, answered
from .lengths import BUCKETS, length_bucket, length_score
from .report import mean
from .scoring import ScoreJob, Scorer

QUALITY_KEYS = ("relevance", "accuracy", "coherence", "clarity", "breadth_and_depth", "reading_experience")


def quality_template(path: str | Path | None = None) -> Template:
    return load_named("eval_quality.txt", {"question", "response"}, {"question", "response", "format"}, path)


def required_length(item: Item) -> int:
    raw = item.fields.get("length")
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise EvalInputError(f"{item.source}: 'length' (the required length in words) must be a positive "
                             f"integer, got {raw!r}")
    return raw


def _mean_pair(a: float | None, b: float | None) -> float | None:
    return (a + b) / 2 if a is not None and b is not None else None


def _aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    s_l = mean(r["S_l"] for r in rows)
    s_q = mean(r["S_q"] for r in rows if r["S_q"] is not None)
    return {"n": len(rows), "n_quality": sum(r["S_q"] is not None for r in rows),
            "S_l": s_l, "S_q": s_q, "S": _mean_pair(s_l, s_q)}


async def evaluate_longbench(
    items: list[Item], responses: dict[str, ResponseRecord], scorer: Scorer | None
) -> dict[str, Any]:
    """Score every item; ``scorer=None`` computes the length score only (no judge calls)."""
    required = {it.id: required_length(it) for it in items}  # every row checked before any call
    rows: list[dict[str, Any]] = []
    jobs: list[ScoreJob] = []
    found, failures = answered(items, responses)
    for it, text in found:
        answer = strip_reasoning(text)
        x, y = required[it.id], count_words(answer)
        row = {"id": it.id, "type": it.fields.get("type"), "required": x, "bucket": length_bucket(x),
               "output_words": y, "S_l": length_score(x, y), "S_q": None, "S": None, "dims": None}
        rows.append(row)
        if scorer is not None:
            row["truncated"] = scorer.truncated(text)
            jobs.append(ScoreJob(scorer.key("longbench-quality", it.question, text), it.id,
                                 partial(scorer.render, it.question, text)))
    if scorer is not None:
        results = await scorer.run(jobs, "quality")
        for row, job in zip(rows, jobs, strict=True):
            res = results[job.key]
            if res.get("ok"):
                dims = {k: int(v) for k, v in res["scores"].items()}
                row["dims"] = dims
                row["S_q"] = mean((v - 1) * 25.0 for v in dims.values())
                row["S"] = (row["S_l"] + row["S_q"]) / 2
            else:
                failures.append({"id": row["id"], "stage": "quality", "error": res.get("error")})
    overall = _aggregate(rows)
    overall["dims"] = {k: mean((r["dims"][k] - 1) * 25.0 for r in rows if r["dims"]) for k in QUALITY_KEYS} \
        if scorer is not None else None
    buckets = {name: _aggregate([r for r in rows if r["bucket"] == name]) for name, _, _ in BUCKETS}
    headline: dict[str, Any] = {"S_l": overall["S_l"], "S_q": overall["S_q"], "S": overall["S"]}
    for name, agg in buckets.items():
        for k in ("S_l", "S_q", "S"):
            if agg[k] is not None:
                headline[f"{k} | {name}"] = agg[k]
    headline.update({"items": len(items), "scored_length": len(rows), "scored_quality": overall["n_quality"],
                     "failed": len(failures), "judge_truncated": sum(bool(r.get("truncated")) for r in rows)})
    return {"benchmark": "longbench-write", "headline": headline, "overall": overall, "buckets": buckets,
            "items": rows, "failures": failures}

