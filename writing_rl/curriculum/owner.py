"""The single owner of the curriculum: a ``CurriculumState`` behind a named Ray actor (or a local object).

Every reward worker, on any node, asks the same owner for levels and reports outcomes to it, so
levels have exactly one writer and ``running_file/index_<experiment>.json`` is written on the head
node, where the user launched the run. The trainer closes steps and snapshots them through it.
On start it restores the checkpoint verl will resume, or starts a new run on the index file's levels.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from ..actors import HEAD_NODE_RESOURCE, ActorHandle, existing_actor, named_actor, reset_local_actors
from .levels import CurriculumConfig
from .snapshot import snapshot_to_resume
from .state import CurriculumState

__all__ = ["HEAD_NODE_RESOURCE", "CurriculumOwner", "actor_name", "existing_owner", "get_owner",
           "reset_local_owners"]


def actor_name(experiment: str) -> str:
    return f"writing_rl_curriculum::{experiment}"


class CurriculumOwner:
    """Async face of one experiment's ``CurriculumState`` (one actor serves every worker)."""

    def __init__(self, cfg: dict[str, Any], trainer_cfg: dict[str, Any] | None = None,
                 ladders: dict[str, int] | None = None) -> None:
        self.state = CurriculumState(CurriculumConfig(**cfg))
        snap = snapshot_to_resume(trainer_cfg)
        if snap is not None:
            self.state.restore(json.loads(snap.read_text(encoding="utf-8")), str(snap))
        else:
            self.state.start_new_run()
        if ladders:
            self.state.learn_ladders(ladders)

    async def ready(self) -> dict[str, Any]:
        """Where the owner runs and what it starts from (the trainer calls this once, to fail fast)."""
        st = self.state
        return {"host": socket.gethostname(), "pid": os.getpid(), "index_file": str(st.index_path),
                "samples": len(st.levels), "step": st.last_finalized, "events": list(st.events)}

    async def level_for(self, sample_id: Any, step: int, n_refs: int, validation: bool = False) -> int:
        return self.state.level_for(sample_id, step, n_refs, validation)

    async def record(self, sample_id: Any, step: int, outcome: str, validation: bool = False) -> None:
        self.state.record(sample_id, step, outcome, validation)

    async def finalize(self, step: int, reported: dict[str, float] | None = None) -> dict[str, float]:
        return self.state.finalize(step, reported)

    async def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot()

    async def levels(self) -> dict[str, int]:
        return dict(self.state.levels)


def get_owner(cfg: dict[str, Any], trainer_cfg: dict[str, Any] | None = None,
              ladders: dict[str, int] | None = None) -> ActorHandle:
    """The owner for ``cfg['experiment']``: created on first use, shared by every caller."""
    return named_actor(CurriculumOwner, actor_name(cfg.get("experiment", "default")), cfg, trainer_cfg, ladders)


def existing_owner(experiment: str) -> ActorHandle | None:
    """The owner if it was already created (by reward workers), else None."""
    return existing_actor(actor_name(experiment))


def reset_local_owners() -> None:
    """Forget process-local owners (and the other local singletons: tests)."""
    reset_local_actors()
