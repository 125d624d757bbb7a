"""Combining reward components: the weight spec, weighted sums and GRPO-group normalization.

Modes:

* ``weighted`` (PPO with a critic): ``sum_k w_k * r_k`` over the raw component scores.
* ``group-normalized`` (GRPO, LongWriter-Zero's advantage averaging): every component is turned
  into a z-score within its rollout group, ``(r - mean) / std`` (sample std, as verl's GRPO
  uses), then the weighted mean ``sum_k w_k * z_k / sum_k w_k`` is the sample's reward. A
  component that is equal across the group (std <= eps), or a group of one, gives zeros, never
  NaN. verl's GRPO then normalizes this reward once more within the group; set
  ``algorithm.norm_adv_by_std_in_grpo=False`` to keep the averaged z-scores as the advantage.

A weight of 0 keeps a component computed and logged but out of the reward. A ``None`` value
(failed judgment) is left out of its group's statistics and makes that sample's combined reward
``None``; it is never replaced by a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .base import RewardConfigError

KNOWN = ("pairwise", "length", "format", "repetition")
MODES = ("weighted", "group-normalized")

Values = Mapping[str, float | None]


def parse_components(spec: str, setting: str = "REWARD_COMPONENTS") -> dict[str, float]:
    """Parse ``"pairwise:1.0,length:1.0,format:0.5"``; a name without ``:weight`` has weight 1."""
    weights: dict[str, float] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        name, _, raw = (part.strip() for part in item.partition(":"))
        name = name.lower()
        if name not in KNOWN:
            known = ", ".join(KNOWN)
            raise RewardConfigError(f"unknown reward component {name!r} in {setting}={spec!r}; known: {known}")
        if name in weights:
            raise RewardConfigError(f"reward component {name!r} appears twice in {setting}={spec!r}")
        try:
            weight = float(raw) if raw else 1.0
        except ValueError:
            raise RewardConfigError(f"weight {raw!r} of {name} in {setting} is not a number") from None
        if not math.isfinite(weight) or weight < 0:
            raise RewardConfigError(f"weight of {name} in {setting} must be a finite number >= 0, got {raw}")
        weights[name] = weight
    if not any(weights.values()):
        raise RewardConfigError(
            f"{setting}={spec!r} has no component with a positive weight; e.g. pairwise:1.0,length:1.0,format:0.5"
        )
    return weights


def _value(values: Values, name: str) -> float | None:
    if name not in values:
        raise KeyError(f"no value for reward component {name!r}; got {sorted(values)}")
    return values[name]


def combine_weighted(values: Values, weights: Mapping[str, float]) -> float | None:
    """``sum_k w_k * r_k``; None if a component with a positive weight is None."""
    total = 0.0
    for name, w in weights.items():
        if w:
            v = _value(values, name)
            if v is None:
                return None
            total += w * v
    return total


def normalize_group(groups: Sequence[Values], eps: float = 1e-6) -> list[dict[str, float | None]]:
    """Per-component z-scores within one group (std <= eps or fewer than 2 values -> zeros)."""
    names = sorted({k for g in groups for k in g})
    out: list[dict[str, float | None]] = [{} for _ in groups]
    for name in names:
        vals = [_value(g, name) for g in groups]
        present = [v for v in vals if v is not None]
        mean = sum(present) / len(present) if present else 0.0
        std = math.sqrt(sum((v - mean) ** 2 for v in present) / (len(present) - 1)) if len(present) > 1 else 0.0
        for row, v in zip(out, vals, strict=True):
            row[name] = None if v is None else (0.0 if std <= eps else (v - mean) / std)
    return out


def combine_group_normalized(group_values: Sequence[Values], weights: Mapping[str, float]) -> list[float | None]:
    """The weighted mean of per-component z-scores for each member of one group."""
    total_w = sum(weights.values())
    return [None if (c := combine_weighted(z, weights)) is None else c / total_w for z in normalize_group(group_values)]
