"""Pairwise win rate of model A over model B (or over references), judged in both orders.

Each pair is judged with ``PairwiseJudge.compare(strategy="both-orders")`` with A as the
response and B as the reference, so *win* means A is better in both orders, *loss* that B is,
and anything else is a tie. Failed judgments are excluded from the rates and counted apart.
The 95% interval is a percentile bootstrap over items (1000 resamples, fixed seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..calls.log import ResultLog, sha
from ..calls.runner import RunStats, run_jobs
from ..judge.compare import PairwiseJudge, format_criteria
from ..judge.errors import JudgeInputError
from .data import EvalInputError, Item, ResponseRecord
from .report import mean
from .scoring import public_url, report_stats, text_sha

RATES = ("win", "tie", "loss")


@dataclass
class Pair:
    id: str
    question: str
    a: str
    b: str
    criteria: Any = None


def _bootstrap(outcomes: Sequence[str], categories: Sequence[str], n_boot: int, seed: int, level: float
               ) -> tuple[dict[str, Any], Any]:
    """Shares (percent) of each category with percentile intervals, and the resampled shares (or None).

    Resampling n items with replacement gives category counts distributed Multinomial(n, observed
    rates), so each resample is drawn as one multinomial vector.
    """
    n = len(outcomes)
    counts = np.array([sum(1 for o in outcomes if o == k) for k in categories], dtype=float)
    out: dict[str, Any] = {"n": n, "counts": dict(zip(categories, counts.astype(int).tolist(), strict=True)),
                           "n_boot": n_boot, "seed": seed, "level": level}
    if n == 0:
        out.update({k: None for k in categories})
        out["ci"] = {k: None for k in categories}
        return out, None
    draws = np.random.default_rng(seed).multinomial(n, counts / n, size=n_boot) / n * 100.0
    out.update({k: float(c / n * 100.0) for k, c in zip(categories, counts, strict=True)})
    out["ci"] = {k: percentile_ci(draws[:, i], level) for i, k in enumerate(categories)}
    return out, draws


def percentile_ci(series: Any, level: float = 0.95) -> list[float]:
    lo_q, hi_q = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return [float(np.percentile(series, lo_q)), float(np.percentile(series, hi_q))]


def bootstrap_shares(outcomes: Sequence[str], categories: Sequence[str], n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> dict[str, Any]:
    """The percent of items in each category, each with a 95% percentile bootstrap interval over items.

    Outcomes outside ``categories`` count in ``n`` but in no category.
    """
    return _bootstrap(outcomes, categories, n_boot, seed, level)[0]


def bootstrap_rates(outcomes: list[str], n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Rates (percent) of win/tie/loss and score = win + tie/2, each with a percentile bootstrap interval."""
    out, draws = _bootstrap(outcomes, RATES, n_boot, seed, level)
    if draws is None:
        out["score"] = None
        out["ci"]["score"] = None
        return out
    out["score"] = out["win"] + out["tie"] / 2
    out["ci"]["score"] = percentile_ci(draws[:, 0] + draws[:, 1] / 2, level)
    return out


def _record(j: Any) -> dict[str, Any]:
    return {"outcome": j.outcome, "disagreement": j.disagreement, "reason": j.reason,
            "orders": [{"a_position": o.policy_position, "verdict": o.verdict, "outcome": o.outcome,
                        "error": o.error} for o in j.orders],
            "raw": j.raw, "attempts": j.attempts, "prompt_tokens": j.prompt_tokens,
            "completion_tokens": j.completion_tokens, "truncated": j.truncated}


def judge_record(judge: PairwiseJudge, strategy: str) -> dict[str, Any]:
    """The judge settings a report records (never a key; the base URL without credentials)."""
    s = judge.settings
    return {"model": s.model, "backend": s.backend, "base_url": public_url(s.base_url),
            "temperature": s.temperature, "max_tokens": s.max_tokens,
            "max_candidate_chars": s.max_candidate_chars, "strategy": strategy,
            "template": judge.template.source, "criteria_template": judge.criteria_template.source,
            "template_sha256": text_sha(judge.template.text),
            "criteria_template_sha256": text_sha(judge.criteria_template.text)}


def make_pairs(
    items: list[Item], a: dict[str, ResponseRecord], b: dict[str, ResponseRecord] | None, *,
    reference_level: int = -1, with_criteria: bool = True,
) -> tuple[list[Pair], list[dict[str, Any]]]:
    """A against B (or against each row's reference at ``reference_level``); rows lacking a side are failures."""
    pairs, missing = [], []
    for it in items:
        ra = a.get(it.id)
        if b is not None:
            rb = b.get(it.id)
            text_b = rb.text if rb else None
        else:
            refs = it.references
            if not refs:
                raise EvalInputError(f"{it.source}: no references (reward_model.ground_truth.target, "
                                     "'references' or 'target') to compare with")
            if not -len(refs) <= reference_level < len(refs):
                raise EvalInputError(f"{it.source}: --reference-level {reference_level} is out of range "
                                     f"for its {len(refs)} reference(s)")
            text_b = refs[reference_level]
        if ra is None or ra.text is None or text_b is None:
            side = "A" if ra is None or ra.text is None else "B"
            missing.append({"id": it.id, "stage": "response", "error": f"no response from {side}"})
            continue
        pairs.append(Pair(it.id, it.question, ra.text, text_b, it.criteria if with_criteria else None))
    return pairs, missing


async def evaluate_pairwise(
    pairs: list[Pair],
    judge: PairwiseJudge,
    log_path: str | Path,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Judge every pair (cached ones from the log) and compute the rates and intervals."""
    s = judge.settings
    keys = {p.id: sha("pairwise", s.model, s.temperature, s.max_tokens, judge.template.text,
                      judge.criteria_template.text, p.question, p.a, p.b, format_criteria(p.criteria))
            for p in pairs}
    log = ResultLog(log_path, "judgment log")
    done = {r["key"]: r for r in log.records if r.get("outcome") not in (None, "failed")}
    results = {p.id: done[keys[p.id]] for p in pairs if keys[p.id] in done}
    stats = RunStats("pairwise", cached=len(results))
    todo = [p for p in pairs if p.id not in results]

    async def one(p: Pair) -> bool:
        try:
            rec = _record(await judge.compare(p.question, p.b, p.a, p.criteria, strategy="both-orders"))
        except JudgeInputError as e:  # an empty answer: reported, not judged, not counted
            rec = {"outcome": "failed", "reason": str(e), "disagreement": None, "attempts": 0,
                   "prompt_tokens": 0, "completion_tokens": 0}
        rec = {"key": keys[p.id], "id": p.id, **rec}
        log.append(rec)
        results[p.id] = rec
        stats.attempts += rec["attempts"]
        stats.prompt_tokens += rec["prompt_tokens"]
        stats.completion_tokens += rec["completion_tokens"]
        return rec["outcome"] != "failed"

    try:
        await run_jobs(todo, one, concurrency=s.concurrency, stats=stats, progress_bar=show_progress, unit="call")
    finally:
        log.close()
    items = [{"id": p.id, "outcome": results[p.id]["outcome"], "disagreement": results[p.id].get("disagreement"),
              "reason": results[p.id].get("reason")} for p in pairs]
    judged = [r for r in items if r["outcome"] != "failed"]
    failures = [{"id": r["id"], "stage": "judge", "error": r["reason"]} for r in items if r["outcome"] == "failed"]
    rates = bootstrap_rates([r["outcome"] for r in judged], n_boot=n_boot, seed=seed)
    disagreement = mean(100.0 * bool(r["disagreement"]) for r in judged)
    headline: dict[str, Any] = {"win_rate": rates["win"], "tie_rate": rates["tie"], "loss_rate": rates["loss"],
                                "score": rates["score"]}
    for k in ("win", "tie", "loss", "score"):
        if rates["ci"][k] is not None:
            headline[f"{k if k == 'score' else k + '_rate'} ci95 low"] = rates["ci"][k][0]
            headline[f"{k if k == 'score' else k + '_rate'} ci95 high"] = rates["ci"][k][1]
    headline.update({"disagreement_rate": disagreement, "items": len(pairs), "judged": len(judged),
                     "failed": len(failures)})
    return {"benchmark": "pairwise", "headline": headline, "rates": rates, "disagreement_rate": disagreement,
            "judge": judge_record(judge, "both-orders"), "stats": report_stats(stats), "items": items,
            "failures": failures}
