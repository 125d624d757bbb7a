"""The ``writing_rl`` verl trainer: verl's synchronous PPO trainer, plus the curriculum's step boundaries.

Selected with ``trainer.v1.trainer_mode=writing_rl``. On top of ``PPOTrainerSync`` it:

* runs verl's synchronous paths (verl compares its mode string with ``"sync"``);
* starts the curriculum owner before any worker, with every sample's ladder read from the training
  data, so a missing or foreign index file stops the run before training;
* stops the run, before the step's update, when a reward worker reported a fatal error (a rejected
  key, bad data) or too many judgments of the step failed: verl's agent loop would otherwise mark
  the prompt groups failed and train on the rest (or, when every group failed, stop with a message
  about its replay buffer that does not say why);
* writes the curriculum snapshot into ``global_step_N`` *before* verl's checkpoint, so no checkpoint
  verl can resume lacks it;
* closes each step (level-ups, one atomic index write) and adds its metrics to what verl logs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from .actors import call_sync
from .atomic import atomic_write_json
from .curriculum.owner import get_owner
from .curriculum.snapshot import SNAPSHOT_NAME
from .data.check import load_ladders
from .reward_monitor import TrainingStopped, get_monitor, root_message
from .run_config import RewardOptions, options_from_config


def say(message: str) -> None:
    """A status line in the driver's log. Printed, not logged: libraries loaded during verl's set-up
    reconfigure logging and silence loggers that existed before them (this one included)."""
    print(f"[writing_rl] {message}", flush=True)


class CurriculumDriver:
    """The curriculum owner and the reward monitor as the trainer sees them: blocking calls, ``TrainingStopped``."""

    def __init__(self, opts: RewardOptions, trainer_cfg: dict[str, Any] | None,
                 ladders: dict[str, int] | None = None) -> None:
        self.owner = get_owner(opts.curriculum(), trainer_cfg, ladders)
        self.monitor = get_monitor(opts.experiment, opts.max_failed_share, opts.failure_check_min)
        try:
            info = call_sync(self.owner, "ready")
        except Exception as e:  # the owner's constructor failed (index file missing or foreign, snapshot ...)
            raise TrainingStopped(f"the curriculum could not start: {root_message(e)}") from None
        for event in info.get("events", []):
            say(f"curriculum: {event}")
        say(f"curriculum: {info['samples']} samples from {info['index_file']}, owner on {info['host']} "
            f"(pid {info['pid']}), starting after step {info['step']}")

    def check(self, step: int | None = None) -> None:
        """Raise ``TrainingStopped`` if a worker reported a fatal error, or ``step`` failed too often."""
        try:
            reason = call_sync(self.monitor, "stop_reason", step)
        except Exception as e:
            raise TrainingStopped(f"the reward monitor is gone: {root_message(e)}") from None
        if reason:
            raise TrainingStopped(reason)

    def close_step(self, step: int) -> dict[str, float]:
        """The one place a step closes: level-ups, one index write, the step's metrics (idempotent)."""
        return call_sync(self.owner, "finalize", step, call_sync(self.monitor, "close", step))

    def snapshot_into(self, step: int, checkpoint_dir: str | os.PathLike[str]) -> Path:
        """Close ``step`` and write the curriculum of that step into verl's ``global_step_N`` folder."""
        self.close_step(step)
        path = Path(checkpoint_dir) / SNAPSHOT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, call_sync(self.owner, "snapshot"))
        say(f"curriculum: saved step {step} into {path}")
        return path


@register_trainer("writing_rl")
class WritingRLTrainer(PPOTrainerSync):
    """``PPOTrainerSync`` with the curriculum's step boundaries (see the module docstring)."""

    @property
    def trainer_mode(self) -> str:
        """What verl's trainer base compares with "sync": this trainer is the synchronous one."""
        return "sync"

    @trainer_mode.setter
    def trainer_mode(self, _registered_name: str) -> None:
        pass  # PPOTrainer.__init__ assigns config.trainer.v1.trainer_mode ("writing_rl"), the registry name

    def init(self) -> None:
        opts, _, _ = options_from_config(self.config)
        files = self.config.data.train_files
        files = [files] if isinstance(files, str) else list(files)
        trainer_cfg: Any = OmegaConf.to_container(self.config.trainer, resolve=True)
        ladders = {k: v for f in files for k, v in load_ladders(f).items()}
        self.curriculum = CurriculumDriver(opts, trainer_cfg, ladders)
        super().init()
        gen_batch_size = self.config.data.get("gen_batch_size", None) or self.config.data.train_batch_size
        say(f"verl sync path: replay buffer {type(self.replay_buffer).__name__}, gen_batch_size {gen_batch_size}")

    def step(self, metrics: dict, timing_raw: dict) -> Any:
        try:
            return super().step(metrics, timing_raw)
        except Exception:  # e.g. verl's sync buffer refusing a batch whose every group failed: say why
            self.curriculum.check(self.global_steps)
            raise

    def on_sample_end(self) -> None:
        super().on_sample_end()
        self.curriculum.check(self.global_steps)  # before old_log_prob, advantages and the update

    def _validate(self) -> dict[str, float]:
        try:
            metrics = super()._validate()
        except Exception as e:  # a validation that failed because a worker hit a fatal error says why
            self.curriculum.check()
            raise TrainingStopped(f"validation failed: {e}") from e
        self.curriculum.check()
        return metrics

    def _save_checkpoint(self) -> None:
        # verl marks a checkpoint resumable (latest_checkpointed_iteration.txt) before it runs checkpoint
        # callbacks; writing the curriculum first leaves no window in which it could be missing.
        folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
        self.curriculum.snapshot_into(self.global_steps, folder)
        super()._save_checkpoint()

    def on_step_end(self) -> None:
        super().on_step_end()
        metrics = self.curriculum.close_step(self.global_steps)
        # verl merges this dict into the step's logged metrics right after on_step_end.
        pending = getattr(self, "_pending_sync_metrics", None) or {}
        pending.update(metrics)
        self._pending_sync_metrics = pending
