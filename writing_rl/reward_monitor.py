"""What the reward workers saw in each training step: its metrics, the failure-rate breaker, the first fatal error.

Every reward worker sends each training rollout's ``reward_extra_info`` row (plus the judge's token
counts, failure reason and the reward's wall-clock span) to one ``RewardMonitor`` per experiment.
verl 0.9.1's v1 trainer keeps ``reward_extra_info`` for validation and dumps only, not in the training
step's metrics, so the rows come here; ``StepStats`` turns them into the step's ``writing_rl/*`` metrics.

It also stops training: a worker's fatal error (a rejected key, bad data) is kept for the trainer,
and ``JudgeFailureRateError`` is raised in the worker once a step's failed share passes the limit.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .actors import ActorHandle, named_actor

log = logging.getLogger("writing_rl.reward")

OUTCOMES = ("win", "tie", "loss", "failed", "empty")
_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$", re.MULTILINE)


class JudgeFailureRateError(RuntimeError):
    """Too many judgments failed in one step: training must stop rather than learn from noise."""


class TrainingStopped(RuntimeError):
    """Training must stop: a reward worker hit a fatal error, or too many judgments failed in a step."""


def root_message(exc: BaseException) -> str:
    """``SomeError: message`` for an error; for an error Ray re-raised as text, the innermost such line."""
    if type(exc).__module__.startswith("ray."):
        found = _ERROR_LINE.findall(str(exc))
        if found:
            name, msg = found[-1]
            return f"{name}: {msg.strip()}"
    return f"{type(exc).__name__}: {exc}"


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


class RewardMonitor:
    """Per-step stats of the training rollouts, the latest judge-pool counters per worker, the first fatal error."""

    def __init__(self, max_failed_share: float = 0.2, failure_check_min: int = 32) -> None:
        if not 0 <= max_failed_share <= 1:
            raise ValueError(f"max_failed_share must be within [0, 1], got {max_failed_share}")
        self.max_failed_share, self.failure_check_min = max_failed_share, failure_check_min
        self.stats: dict[int, StepStats] = defaultdict(StepStats)
        self.pool: dict[str, dict[str, float]] = {}
        self._fatal: str | None = None

    def _failure_message(self, step: int, stats: StepStats) -> str:
        top = stats.failure_reasons.most_common(1)[0][0] if stats.failure_reasons else "unknown"
        return (f"{stats.outcomes['failed']} of {stats.total} judgments failed in step {step} (limit "
                f"{self.max_failed_share:.0%}); most common reason: {top}. Fix the judge (key, endpoint, quota) "
                "and resume from the last checkpoint; raise reward.reward_kwargs.max_failed_share only if this "
                "is expected.")

    def _over_limit(self, stats: StepStats) -> bool:
        return bool(stats.total) and stats.outcomes["failed"] / stats.total > self.max_failed_share

    async def observe(self, step: int, row: dict[str, Any], validation: bool = False,
                      pool: dict[str, float] | None = None, worker: str = "?") -> None:
        """One rollout's row; raises ``JudgeFailureRateError`` (kept as fatal) past the failure limit."""
        if pool:
            self.pool[worker] = dict(pool)
        if validation:
            return
        stats = self.stats[step]
        stats.add(row)
        if stats.total >= self.failure_check_min and self._over_limit(stats):
            message = self._failure_message(step, stats)
            await self.fail(message)
            raise JudgeFailureRateError(message)

    async def fail(self, message: str) -> None:
        """A reward worker hit an error that must stop training; the first one is kept."""
        if self._fatal is None:
            self._fatal = message
            log.error("[rewards] training must stop: %s", message)

    async def stop_reason(self, step: int | None = None) -> str | None:
        """Why training must stop now: a worker's fatal error, or too many failed judgments in ``step``."""
        if self._fatal is not None:
            return self._fatal
        stats = self.stats.get(step) if step is not None else None
        return self._failure_message(step, stats) if stats and self._over_limit(stats) else None

    async def close(self, step: int) -> dict[str, float]:
        """The step's metrics (its stats are dropped), with the judge pool's latest counters."""
        stats = self.stats.pop(step, None) or StepStats()
        for s in [k for k in self.stats if k < step]:  # rows of steps that never closed
            del self.stats[s]
        return {**stats.metrics(), **merge_pool_metrics(list(self.pool.values()))}


def monitor_name(experiment: str) -> str:
    return f"writing_rl_reward_monitor::{experiment}"


def get_monitor(experiment: str, max_failed_share: float = 0.2, failure_check_min: int = 32) -> ActorHandle:
    """The monitor of ``experiment``: created on first use, shared by every worker and the trainer."""
    return named_actor(RewardMonitor, monitor_name(experiment), max_failed_share, failure_check_min)
