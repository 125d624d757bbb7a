"""`writing-rl judge audit`: measure a judge on the training data's own answer key before training.

Every sample's references are sorted by increasing quality, so a judge the curriculum can trust
ranks reference k+1 above reference k. The audit judges sampled ladder pairs in both orders
(``pairs``, ``run``), measures accuracy, position and length bias, reliability and cost
(``metrics``, ``cost``), states a verdict against fixed thresholds (``assess``) and writes
``report.json``, ``report.md`` and PNG charts (``report``, ``plots``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import __version__
from ..eval.pairwise import judge_record
from ..eval.report import now_utc
from ..judge.client import JudgeClient
from ..judge.compare import PairwiseJudge
from .cost import LaunchSettings, estimate, prices_from_env
from .metrics import Shares, ladder, length_preference, position, reliability
from .pairs import AuditData, load_pairs
from .report import BENCHMARK, compare_audits, finish, write
from .run import judge_pairs

__all__ = ["AuditData", "LaunchSettings", "audit_once", "compare_audits", "load_pairs", "prices_from_env", "run_audit",
           "write"]


async def run_audit(
    data: AuditData,
    judge: PairwiseJudge,
    *,
    log_path: str | Path | None,
    launch: LaunchSettings,
    prices: dict[str, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    show_progress: bool = True,
    inputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Judge the pairs (resuming from ``log_path``) and return the full report (not yet written)."""
    judged = await judge_pairs(data.pairs, judge, log_path, show_progress=show_progress)
    final, history = judged["final"], judged["history"]
    shares = Shares(n_boot, seed)
    rel = reliability(history, shares)
    model = judge.settings.model
    failures = [{"id": f"{pid} ({order})", "stage": "judge", "error": r.get("reason")}
                for pid, orders in final.items() for order, r in orders.items() if r["outcome"] == "failed"]
    report: dict[str, Any] = {
        "benchmark": BENCHMARK, "name": model, "title": f"Judge audit: {model}", "created": now_utc(),
        "version": __version__,
        "inputs": {"data": data.path, "rows": data.rows, "rows_with_ladder": data.ladder_rows,
                   "sampled_rows": data.sampled_rows, "pairs": len(data.pairs),
                   **{f"skipped: {k}": v for k, v in data.skipped.items()}, **(inputs or {})},
        "judge": {**judge_record(judge, "both orders, one call each"), "concurrency": judge.settings.concurrency},
        "ladder": ladder(data.pairs, final, shares),
        "position": position(data.pairs, final, shares),
        "length": length_preference(data.pairs, final, shares),
        "reliability": rel,
        "cost": estimate(rel["tokens"], launch, data.rows, prices),
        "stats": judged["stats"],
        "judgments": [{k: v for k, v in r.items() if k not in ("key", "raw")} for r in history],
        "failures": failures,
        "failures_note": "Counted in the failure rate, left out of every other number; rerun with the same `--out` "
                         "to retry them.",
    }
    return finish(report)


async def audit_once(data: AuditData, judge: PairwiseJudge, **kwargs: Any) -> dict[str, Any]:
    """``run_audit`` with a judge client of its own, closed at the end (for one-shot commands)."""
    client = JudgeClient(judge.settings)
    own = PairwiseJudge(judge.settings, client=client, template=judge.template,
                        criteria_template=judge.criteria_template)
    try:
        return await run_audit(data, own, **kwargs)
    finally:
        await client.close()
