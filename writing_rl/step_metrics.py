"""One training step's ``writing_rl/*`` metrics, summed up from its rollouts' ``reward_extra_info`` rows.

Outcome rates, judge latency percentiles and token counts, each reward component's mean, the reward's
wall-clock share (the union of the rewards' spans), and the judge pool's counters merged across workers.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("win", "tie", "loss", "failed", "empty")


def covered_seconds(spans: list[tuple[float, float]]) -> float:
    """Seconds during which at least one of the intervals was open (their union's length)."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def merge_pool_metrics(snapshots: list[dict[str, float]]) -> dict[str, float]:
    """Combine per-worker judge-pool counters: counts add up, health takes the worst, latency the max."""
    out: dict[str, float] = {}
    for snap in snapshots:
        for k, v in snap.items():
            if k not in out:
                out[k] = v
            elif k.endswith(("healthy", "healthy_endpoints")):
                out[k] = min(out[k], v)
            elif k.endswith(("latency_p50", "latency_p95")):
                out[k] = max(out[k], v)
            else:
                out[k] += v
    return out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


@dataclass
class StepStats:
    """One training step's ``reward_extra_info`` rows, summed up."""

    outcomes: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    failure_reasons: Counter = field(default_factory=Counter)
    components: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    spans: list[tuple[float, float]] = field(default_factory=list)  # wall-clock (start, end) of each reward

    def add(self, row: dict[str, Any]) -> None:
        self.outcomes[str(row["outcome"])] += 1
        self.latencies.append(float(row.get("judge_latency_s", 0.0)))
        self.attempts += int(row.get("judge_attempts", 0))
        self.prompt_tokens += int(row.get("judge_prompt_tokens", 0))
        self.completion_tokens += int(row.get("judge_completion_tokens", 0))
        self.cached_prompt_tokens += int(row.get("judge_cached_prompt_tokens", 0))
        if row.get("reward_span"):
            self.spans.append((float(row["reward_span"][0]), float(row["reward_span"][1])))
        for key, value in row.items():
            if key.startswith("reward_") and key != "reward_span" and not math.isnan(float(value)):
                self.components[key[len("reward_"):]].append(float(value))
        if row["outcome"] == "failed":
            self.failure_reasons[str(row.get("judge_failure_reason") or "unknown")[:200]] += 1

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def metrics(self) -> dict[str, float]:
        total = self.total
        m = {f"writing_rl/{o}_rate": self.outcomes[o] / total if total else 0.0 for o in OUTCOMES}
        m["writing_rl/judgments"] = float(total)
        m["writing_rl/judge_latency_p50"] = _pct(self.latencies, 0.5)
        m["writing_rl/judge_latency_p95"] = _pct(self.latencies, 0.95)
        m["writing_rl/judge_attempts_mean"] = self.attempts / total if total else 0.0
        m["writing_rl/judge_prompt_tokens"] = float(self.prompt_tokens)
        m["writing_rl/judge_completion_tokens"] = float(self.completion_tokens)
        m["writing_rl/reward_wall_s"] = covered_seconds(self.spans)
        m["writing_rl/judge_cached_prompt_tokens"] = float(self.cached_prompt_tokens)
        m["writing_rl/judge_cached_share"] = (self.cached_prompt_tokens / self.prompt_tokens
                                              if self.prompt_tokens else 0.0)
        for name, values in self.components.items():
            m[f"writing_rl/reward/{name}_mean"] = sum(values) / len(values) if values else 0.0
        return m
