"""What the reward workers saw in each training step: its metrics, the failure-rate breaker, the first fatal error.

Every reward worker sends each training rollout's ``reward_extra_info`` row (plus the judge's token
counts, failure reason and the reward's wall-clock span) to one ``RewardMonitor`` per experiment.
verl 0.9.1's v1 trainer keeps ``reward_extra_info`` for validation and dumps only, not in the training
step's metrics, so the rows come here; ``step_metrics.StepStats`` turns them into the step's metrics.

It also stops training: a worker's fatal error (a rejected key, bad data) is kept for the trainer,
and ``JudgeFailureRateError`` is raised in the worker once a step's failed share passes the limit.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any

from .actors import ActorHandle, named_actor
from .step_metrics import StepStats, merge_pool_metrics

log = logging.getLogger("writing_rl.reward")

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
