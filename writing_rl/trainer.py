"""The ``writing_rl`` verl trainer: verl's synchronous PPO trainer plus curriculum step metrics.

Selected with ``trainer.v1.trainer_mode=writing_rl``. At the end of every step it closes the step
on the curriculum owner (level-ups, one atomic index write) and adds the step's judge and
curriculum metrics to what verl logs (console and wandb).
"""

from __future__ import annotations

from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync


@register_trainer("writing_rl")
class WritingRLTrainer(PPOTrainerSync):
    """``PPOTrainerSync`` whose ``on_step_end`` also closes the curriculum step."""

    def on_step_end(self) -> None:
        super().on_step_end()
        # imported here: this module is loaded by the verl plugin, possibly while hooks is importing verl
        from .curriculum.hooks import finalize_step

        metrics = finalize_step(self.config, self.global_steps)
        if metrics:
            # verl merges this dict into the step's logged metrics right after on_step_end.
            pending = getattr(self, "_pending_sync_metrics", None) or {}
            pending.update(metrics)
            self._pending_sync_metrics = pending
