"""The preflight's small judge audit: a few ladder pairs, one table row, a warning at worst.

``PREFLIGHT_AUDIT_PAIRS`` pairs (default 8; 0 skips it) are judged in both orders with the
training judge settings; the row shows ladder accuracy and flip rate and warns when the audit's
verdict is not ``ok``. It never fails the preflight: a few pairs give wide intervals, so the row
points to the full ``writing-rl judge audit`` instead.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from ..eval.data import EvalInputError
from ..judge import JudgeError, JudgeSettings, PairwiseJudge
from . import LaunchSettings, audit_once, load_pairs

DEFAULT_PAIRS = 8
OK, WARN, INFO = "ok", "warn", "info"


def audit_pairs(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    raw = (env.get("PREFLIGHT_AUDIT_PAIRS") or "").strip()
    if not raw:
        return DEFAULT_PAIRS
    if not raw.isdigit():
        raise EvalInputError(f"PREFLIGHT_AUDIT_PAIRS={raw!r} must be a whole number of pairs (0 skips the audit)")
    return int(raw)


def quick_audit_row(data_dir: str | Path, settings: JudgeSettings | None = None) -> tuple[str, str, str]:
    """``(status, detail, fix)`` for the preflight table's ``judge audit`` row."""
    full = f"run `writing-rl judge audit --data {data_dir}` for the full audit with confidence intervals"
    try:
        n = audit_pairs()
        if n == 0:
            return INFO, "skipped (PREFLIGHT_AUDIT_PAIRS=0)", ""
        data = load_pairs(data_dir, samples=n, max_pairs=n)
        settings = settings or JudgeSettings.from_env()
        # the preflight's short retry budget, so an unreachable judge is reported in seconds
        judge = PairwiseJudge(settings.replace(max_retries=min(settings.max_retries, 2), backoff_max_s=4.0))
        report = asyncio.run(audit_once(data, judge, log_path=None, launch=LaunchSettings(), n_boot=200,
                                        show_progress=False))
    except EvalInputError as e:
        return INFO, f"skipped: {e}", ""
    except JudgeError as e:
        return WARN, f"could not run: {e}", full
    h = report["headline"]

    def pct(key: str) -> str:
        return "n/a" if h[key] is None else f"{h[key]:.0f}%"

    detail = (f"ladder accuracy {pct('ladder_accuracy')} / flip rate {pct('flip_rate')} on {h['pairs']} pairs "
              f"({h['judgments']} judgments, {h['failed']} failed)")
    verdict = report["verdict"]
    if verdict["level"] == "ok":
        return OK, detail, ""
    crossed = ", ".join(f"{f['metric'].replace('_', ' ')} {f['value']:.0f}% vs {f['limit']:g}%"
                        for f in verdict["findings"])
    return WARN, f"{detail}; {verdict['level']} training: {crossed or verdict['line']}", full
