"""Judging the audit pairs: each pair in both orders, one judgment each, logged and resumable.

In order ``stronger-second`` the weaker reference is answer A and the stronger answer B (the
``position-disadvantage`` layout, with the stronger reference as the "response"); in
``stronger-first`` it is the other way round. Every finished judgment is appended to a JSON-lines
log keyed by a hash of everything that decides it (judge, templates, texts, order), so a rerun with
the same log judges only what is missing and retries failures. Every judgment ever logged for the
audited pairs counts in the failure rate and the latency figures, so a resumed audit reports the
same reliability as one that ran through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..calls.log import ResultLog, sha
from ..calls.runner import RunStats, run_jobs
from ..judge.compare import Judgment, PairwiseJudge, format_criteria
from ..judge.errors import JudgeInputError
from .pairs import LadderPair

ORDERS = ("stronger-first", "stronger-second")
# the stronger reference plays the "response"; the strategy puts it first or second
_STRATEGY = {"stronger-first": "position-advantage", "stronger-second": "position-disadvantage"}
_STRONGER_AT = {"stronger-first": "first", "stronger-second": "second"}
_OUTCOME = {"win": "stronger", "loss": "weaker", "tie": "tie", "failed": "failed"}


def order_key(judge: PairwiseJudge, pair: LadderPair, order: str) -> str:
    """What decides one judgment (as in ``eval``, the model name stands for the judge, not its URL)."""
    s = judge.settings
    return sha("judge-audit", s.model, s.temperature, s.max_tokens, s.max_candidate_chars,
               judge.template.text, judge.criteria_template.text, pair.question, pair.weaker, pair.stronger,
               format_criteria(pair.criteria), order)


def cached_prompt_tokens(j: Judgment) -> int | None:
    """The provider's cached prompt tokens, None where none were reported.

    ``Judgment.cached_prompt_tokens`` is 0 both when the provider reports no cache hit and when it
    reports nothing; the audit counts a cached share only over judgments that had a hit.
    """
    value = getattr(j, "cached_prompt_tokens", None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def winner_position(outcome: str, order: str) -> str | None:
    """``first``/``second``/``tie`` for the answer position the verdict went to; None when failed."""
    if outcome in ("failed", "tie"):
        return None if outcome == "failed" else "tie"
    at = _STRONGER_AT[order]
    return at if outcome == "stronger" else ("second" if at == "first" else "first")


def judgment_record(j: Judgment, order: str) -> dict[str, Any]:
    outcome = _OUTCOME[j.outcome]
    return {"outcome": outcome, "winner": winner_position(outcome, order), "reason": j.reason, "raw": j.raw,
            "attempts": j.attempts, "latency_s": j.latency_s, "prompt_tokens": j.prompt_tokens,
            "completion_tokens": j.completion_tokens, "cached_prompt_tokens": cached_prompt_tokens(j),
            "truncated": any(j.truncated.values())}


async def judge_pairs(
    pairs: list[LadderPair],
    judge: PairwiseJudge,
    log_path: str | Path | None,
    *,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Judge every pair in both orders (what the log already holds is reused).

    Returns ``final`` (pair id -> order -> the record that counts: its success, else its last
    failure), ``history`` (every logged record of these pairs) and ``stats``.
    """
    jobs = [(p, o, order_key(judge, p, o)) for p in pairs for o in ORDERS]
    keys = {k for _, _, k in jobs}
    log = ResultLog(log_path, "audit judgment log") if log_path is not None else None
    history = [r for r in (log.records if log else []) if r.get("key") in keys]
    done = {r["key"] for r in history if r.get("outcome") not in (None, "failed")}
    todo = [job for job in jobs if job[2] not in done]
    stats: dict[str, Any] = {"judgments": len(jobs), "cached": len(jobs) - len(todo), "judged": len(todo),
                             "wall_s": 0.0}
    run = RunStats("judge audit")

    async def one(job: tuple[LadderPair, str, str]) -> bool:
        pair, order, key = job
        try:
            j = await judge.compare(pair.question, pair.weaker, pair.stronger, pair.criteria, _STRATEGY[order])
            rec = judgment_record(j, order)
        except JudgeInputError as e:  # an empty reference: reported, never judged
            rec = {"outcome": "failed", "winner": None, "reason": f"input: {e}", "attempts": 0, "latency_s": 0.0,
                   "prompt_tokens": 0, "completion_tokens": 0, "cached_prompt_tokens": None}
        rec = {"key": key, "pair": pair.id, "order": order, **rec}
        if log:
            log.append(rec)
        history.append(rec)
        return rec["outcome"] != "failed"

    # no more judgments in flight than the client's slots, so a judgment's latency is the judge's
    # (retries included), not time spent queueing for a slot behind the rest of the audit
    try:
        await run_jobs(todo, one, concurrency=judge.settings.concurrency, stats=run, progress_bar=show_progress,
                       unit="call")
    finally:
        if log:
            log.close()
        stats["wall_s"] = run.wall_s
    by_key: dict[str, dict[str, Any]] = {}
    for r in history:  # a success wins over any failure; among failures the last one
        if r["outcome"] != "failed" or by_key.get(r["key"], {}).get("outcome", "failed") == "failed":
            by_key[r["key"]] = r
    final: dict[str, dict[str, dict[str, Any]]] = {}
    for p, o, k in jobs:
        final.setdefault(p.id, {})[o] = by_key[k]
    return {"final": final, "history": history, "stats": stats}
