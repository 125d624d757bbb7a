"""Pairwise quality reward: the judge's verdict on the answer against a reference, as a score.

``win`` scores 1.0, ``tie`` 0.5 and ``loss`` 0.0 (the values are configurable). A ``failed``
judgment (judge call failed or no verdict) scores ``None``: it is never turned into a number, and
any combination that needs it is ``None`` too, so the caller can retry or drop the sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from writing_rl.judge.compare import Judgment

from .base import ComponentResult, RewardConfigError

DEFAULT_VALUES: Mapping[str, float] = {"win": 1.0, "tie": 0.5, "loss": 0.0}


def pairwise_result(judgment: Judgment | str, values: Mapping[str, float] = DEFAULT_VALUES) -> ComponentResult:
    """Score one judgment (or a bare outcome string) of the answer against its reference."""
    outcome = judgment if isinstance(judgment, str) else judgment.outcome
    details: dict[str, Any] = {"outcome": outcome}
    if isinstance(judgment, Judgment):
        details.update(strategy=judgment.strategy, reason=judgment.reason, disagreement=judgment.disagreement)
    if outcome == "failed":
        return ComponentResult(None, details)
    if set(values) != set(DEFAULT_VALUES) or not all(0.0 <= float(v) <= 1.0 for v in values.values()):
        raise RewardConfigError(f"pairwise values must map win, tie and loss to numbers in [0, 1], got {dict(values)}")
    if outcome not in values:
        raise ValueError(f"unknown judgment outcome {outcome!r}; expected win, tie, loss or failed")
    return ComponentResult(float(values[outcome]), details)
