"""The barrier for group-normalized rewards: the rollouts of one prompt wait for each other's component values.

verl's reward loop scores each rollout as it finishes, one at a time, and its advantage estimators see
only the combined scalar reward; LongWriter-Zero's per-component z-scores need the whole group's raw
values first. One ``GroupBarrier`` per experiment (a named Ray actor, see ``actors.py``) collects them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..actors import ActorHandle, named_actor

log = logging.getLogger("writing_rl.rewards")

GroupValues = dict[str, dict[str, float | None]]


class GroupBarrier:
    """Waits until every member of a group reported its values (or a timeout), then gives each all of them."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, Any]] = {}

    async def gather(self, group: str, size: int, member: str, values: dict[str, float | None],
                     timeout_s: float) -> GroupValues:
        """Wait until ``size`` members of ``group`` reported (or ``timeout_s``); return all their values."""
        g = self._groups.get(group)
        if g is None:
            g = self._groups[group] = {"values": {}, "event": asyncio.Event(), "waiters": 0}
        g["values"][member] = values
        if len(g["values"]) >= size:
            g["event"].set()
        g["waiters"] += 1
        try:
            await asyncio.wait_for(g["event"].wait(), timeout_s)
        except asyncio.TimeoutError:
            log.warning("[rewards] group %s: %d of %d rollouts arrived within %.0fs; normalizing over those",
                        group, len(g["values"]), size, timeout_s)
            g["event"].set()
        result = dict(g["values"])
        g["waiters"] -= 1
        if g["waiters"] == 0:
            self._groups.pop(group, None)
        return result


def get_barrier(experiment: str) -> ActorHandle:
    """The group barrier of ``experiment``, shared by every reward worker."""
    return named_actor(GroupBarrier, f"writing_rl_group_barrier::{experiment}")
