"""Trainer-side calls into the curriculum owner: close a step, snapshot into a checkpoint.

Used by the ``writing_rl`` trainer (step metrics) and by ``CurriculumCheckpointCallback``
(verl's ``trainer.checkpoint_callback_class``), both running in verl's driver-side task runner.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from verl.trainer.ppo.checkpoint_callback import CheckpointCallback

from .index_file import atomic_write_json
from .owner import SNAPSHOT_NAME, existing_owner, get_owner

log = logging.getLogger("writing_rl.curriculum")


def _call(handle: Any, method: str, *args: Any) -> Any:
    """Call an owner method from synchronous driver code."""
    if handle.remote:
        import ray

        return ray.get(getattr(handle.target, method).remote(*args))
    return asyncio.run(getattr(handle.target, method)(*args))


def _owner_for(config: Any, create: bool) -> Any:
    from ..reward_manager import options_from_config

    opts, _, _ = options_from_config(config)
    handle = existing_owner(opts.experiment)
    if handle is None and create:
        from omegaconf import OmegaConf

        trainer = OmegaConf.to_container(config.trainer, resolve=True) if hasattr(config, "trainer") else None
        handle = get_owner(opts.curriculum(), trainer)
    return handle


def finalize_step(config: Any, step: int) -> dict[str, float]:
    """Close ``step`` on the owner and return its metrics ({} before the first reward)."""
    handle = _owner_for(config, create=False)
    if handle is None:
        return {}
    return _call(handle, "finalize", step)


class CurriculumCheckpointCallback(CheckpointCallback):
    """Saves the curriculum state of step N into verl's ``global_step_N`` folder."""

    def on_save(self, trainer: Any, global_step: int, checkpoint_dir: str, async_save: bool = False,
                **kwargs: Any) -> None:
        handle = _owner_for(self.config, create=True)
        snap = _call(handle, "finalize_and_snapshot", global_step)
        atomic_write_json(os.path.join(checkpoint_dir, SNAPSHOT_NAME), snap)
        log.info("[curriculum] saved the curriculum of step %d into %s", global_step, checkpoint_dir)
