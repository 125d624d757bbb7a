"""The trainer's side of the curriculum: start the owner, close steps, snapshot them, stop on fatal errors.

Used by the ``writing_rl`` trainer in verl's driver-side task runner. Reward workers report to the
same owner (``owner.py``); this module turns what they reported into a step close, a checkpoint
snapshot, or a ``TrainingStopped`` error raised before the step's update runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path
from typing import Any

from .index_file import atomic_write_json
from .owner import SNAPSHOT_NAME, OwnerHandle, get_owner

log = logging.getLogger("writing_rl.curriculum")


def say(message: str) -> None:
    """A status line in the driver's log. Printed, not logged: libraries loaded during verl's set-up
    reconfigure logging and silence loggers that existed before them (this one included)."""
    print(f"[writing_rl] {message}", flush=True)

_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$", re.MULTILINE)


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


class CurriculumDriver:
    """The owner as the trainer sees it: synchronous calls, errors turned into ``TrainingStopped``."""

    def __init__(self, curriculum_cfg: dict[str, Any], trainer_cfg: dict[str, Any] | None,
                 ladders: dict[str, int] | None = None) -> None:
        self.handle: OwnerHandle = get_owner(curriculum_cfg, trainer_cfg, ladders)
        try:
            info = self._call("ready")
        except Exception as e:  # the owner's constructor failed (index file missing or foreign, snapshot ...)
            raise TrainingStopped(f"the curriculum could not start: {root_message(e)}") from None
        for event in info.get("events", []):
            say(f"curriculum: {event}")
        say(f"curriculum: {info['samples']} samples from {info['index_file']}, owner on {info['host']} "
            f"(pid {info['pid']}), starting after step {info['step']}")

    def _call(self, method: str, *args: Any) -> Any:
        if self.handle.remote:
            import ray

            return ray.get(getattr(self.handle.target, method).remote(*args))
        return asyncio.run(getattr(self.handle.target, method)(*args))

    def check(self, step: int | None = None) -> None:
        """Raise ``TrainingStopped`` if a worker reported a fatal error, or ``step`` failed too often."""
        try:
            reason = self._call("stop_reason", step)
        except Exception as e:
            raise TrainingStopped(f"the curriculum owner is gone: {root_message(e)}") from None
        if reason:
            raise TrainingStopped(reason)

    def close_step(self, step: int) -> dict[str, float]:
        """Apply the step's level-ups, write the index file once, return the step's metrics (idempotent)."""
        return self._call("finalize", step)

    def snapshot_into(self, step: int, checkpoint_dir: str | os.PathLike[str]) -> Path:
        """Close ``step`` and write the curriculum of that step into verl's ``global_step_N`` folder."""
        snap = self._call("finalize_and_snapshot", step)
        path = Path(checkpoint_dir) / SNAPSHOT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, snap)
        say(f"curriculum: saved step {step} into {path}")
        return path
