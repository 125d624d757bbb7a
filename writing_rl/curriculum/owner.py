"""The single owner of the curriculum state: a named Ray actor on the head node, or a local object.

Every reward worker, on any node, talks to the same owner, so levels have exactly one writer and
``running_file/index_<experiment>.json`` is written on the head node, where the user launched the
run. Without Ray (tests, the CLI) a process-local owner with the same interface is used.

The owner also serves as the barrier for group-normalised rewards (all rollouts of one prompt).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

from .state import CurriculumConfig, CurriculumError, CurriculumState, JudgeFailureRateError

log = logging.getLogger("writing_rl.curriculum")

SNAPSHOT_NAME = "writing_rl_curriculum.json"
HEAD_NODE_RESOURCE = "node:__internal_head__"


def actor_name(experiment: str) -> str:
    return f"writing_rl_curriculum::{experiment}"


def resume_checkpoint_dir(trainer_cfg: Any) -> str | None:
    """The checkpoint folder verl will resume from, following ``trainer.resume_mode``."""
    if trainer_cfg is None:
        return None
    get = trainer_cfg.get if hasattr(trainer_cfg, "get") else lambda k, d=None: getattr(trainer_cfg, k, d)
    mode = get("resume_mode", "auto")
    if mode == "disable":
        return None
    if mode == "resume_path":
        path = get("resume_from_path", None)
        return str(path) if path else None
    base = get("default_local_dir", None)
    if not base:
        return None
    tracker = Path(base) / "latest_checkpointed_iteration.txt"
    if not tracker.is_file():
        return None
    try:
        step = int(tracker.read_text().strip())
    except ValueError:
        return None
    ckpt = Path(base) / f"global_step_{step}"
    return str(ckpt) if ckpt.is_dir() else None


class CurriculumOwner:
    """Holds a ``CurriculumState``; async methods so one actor can also serve group barriers.

    On start it restores the checkpoint that verl will resume (its ``writing_rl_curriculum.json``
    must be there), or, with no checkpoint to resume, starts a new run on the index file's levels.
    It also keeps the first fatal reward error any worker reported, for the trainer to stop on.
    """

    def __init__(self, cfg: dict[str, Any], trainer_cfg: dict[str, Any] | None = None,
                 ladders: dict[str, int] | None = None) -> None:
        self.state = CurriculumState(CurriculumConfig(**cfg))
        ckpt = resume_checkpoint_dir(trainer_cfg)
        if ckpt:
            snap_path = Path(ckpt) / SNAPSHOT_NAME
            if not snap_path.is_file():
                raise CurriculumError(
                    f"verl will resume from {ckpt}, which has no {SNAPSHOT_NAME}: the levels of that step are "
                    "unknown. Resume from a checkpoint that has one (trainer.resume_mode=resume_path "
                    "trainer.resume_from_path=<its global_step_N folder>), or start over with "
                    "trainer.resume_mode=disable to keep the index file's levels."
                )
            self.state.restore(json.loads(snap_path.read_text(encoding="utf-8")), str(snap_path))
        else:
            self.state.start_new_run()
        if ladders:
            self.state.learn_ladders(ladders)
        self._groups: dict[str, dict[str, Any]] = {}
        self._fatal: str | None = None

    async def ready(self) -> dict[str, Any]:
        """Where the owner runs and what it starts from (the trainer calls this once, to fail fast)."""
        import socket

        st = self.state
        return {"host": socket.gethostname(), "pid": os.getpid(), "index_file": str(st.index_path),
                "samples": len(st.levels), "step": st.last_finalized, "events": list(st.events)}

    async def fail(self, message: str) -> None:
        """A reward worker hit an error that must stop training; the first one is kept."""
        if self._fatal is None:
            self._fatal = message
            log.error("[curriculum] training must stop: %s", message)

    async def stop_reason(self, step: int | None = None) -> str | None:
        """Why training must stop now: a worker's fatal error, or too many failed judgments in ``step``."""
        if self._fatal is not None:
            return self._fatal
        return self.state.failure_stop(step) if step is not None else None

    async def level_for(self, sample_id: Any, step: int, n_refs: int, validation: bool = False) -> int:
        return self.state.level_for(sample_id, step, n_refs, validation)

    async def record(self, sample_id: Any, step: int, outcome: str, validation: bool = False,
                     info: dict[str, Any] | None = None) -> None:
        try:
            self.state.record(sample_id, step, outcome, validation, info)
        except JudgeFailureRateError as e:  # kept here, in its own words, for the trainer to stop on
            await self.fail(str(e))
            raise

    async def finalize(self, step: int) -> dict[str, float]:
        return self.state.finalize(step)

    async def finalize_and_snapshot(self, step: int) -> dict[str, Any]:
        self.state.finalize(step)
        return self.state.snapshot()

    async def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot()

    async def validation_metrics(self) -> dict[str, float]:
        return self.state.validation_metrics()

    async def levels(self) -> dict[str, int]:
        return dict(self.state.levels)

    async def group_values(self, group: str, size: int, member: str, values: dict[str, float | None],
                           timeout_s: float) -> dict[str, dict[str, float | None]]:
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
            log.warning("[rewards] group %s: %d of %d rollouts arrived within %.0fs; normalising over those",
                        group, len(g["values"]), size, timeout_s)
            g["event"].set()
        result = dict(g["values"])
        g["waiters"] -= 1
        if g["waiters"] == 0:
            self._groups.pop(group, None)
        return result


class OwnerHandle:
    """Awaitable calls to the owner, whether it is a Ray actor or a local object."""

    def __init__(self, target: Any, remote: bool) -> None:
        self.target, self.remote = target, remote

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.target, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.remote:
                return await method.remote(*args, **kwargs)
            return await method(*args, **kwargs)

        return call


_LOCAL: dict[str, CurriculumOwner] = {}


def get_owner(cfg: dict[str, Any], trainer_cfg: dict[str, Any] | None = None,
              ladders: dict[str, int] | None = None) -> OwnerHandle:
    """The owner for ``cfg['experiment']``: created on first use, shared by every caller."""
    name = actor_name(cfg.get("experiment", "default"))
    try:
        import ray
    except ImportError:  # pragma: no cover - ray comes with verl
        ray = None
    if ray is not None and ray.is_initialized():
        has_head = any(HEAD_NODE_RESOURCE in n.get("Resources", {}) for n in ray.nodes() if n.get("Alive"))
        options: dict[str, Any] = dict(name=name, get_if_exists=True, num_cpus=0, max_concurrency=4096)
        if has_head:
            options["resources"] = {HEAD_NODE_RESOURCE: 0.001}
        actor = ray.remote(CurriculumOwner).options(**options).remote(cfg, trainer_cfg, ladders)
        return OwnerHandle(actor, remote=True)
    owner = _LOCAL.get(name)
    if owner is None:
        owner = _LOCAL[name] = CurriculumOwner(cfg, trainer_cfg, ladders)
    return OwnerHandle(owner, remote=False)


def existing_owner(experiment: str) -> OwnerHandle | None:
    """The owner if it was already created (by reward workers), else None."""
    name = actor_name(experiment)
    try:
        import ray

        if ray.is_initialized():
            return OwnerHandle(ray.get_actor(name), remote=True)
    except ValueError:
        return None
    owner = _LOCAL.get(name)
    return OwnerHandle(owner, remote=False) if owner else None


def reset_local_owners() -> None:
    """Forget process-local owners (tests)."""
    _LOCAL.clear()
