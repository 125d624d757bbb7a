"""``PairwiseJudgeRewardManager``: verl's reward-loop manager ``parallel``, judging each rollout as it finishes.

For one trajectory (``run_single``): decode the response, read the sample's ground truth, ask the
curriculum owner which reference level to use, judge the response against that reference, turn
the outcome into a reward (1 / 0.5 / 0 by default), add any LongWriter-Zero components, report the
outcome to the owner and the ``reward_extra_info`` row to the reward monitor. Settings come from
``reward.reward_kwargs`` (see README). The registered name stays ``parallel``: users' configs use it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Any

from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from .actors import ActorHandle
from .curriculum.levels import CurriculumError
from .curriculum.owner import get_owner
from .data.schema import GroundTruth, GroundTruthError
from .judge import JudgeInputError, PairwiseJudge
from .judge.text import strip_reasoning
from .reward_monitor import get_monitor, root_message
from .rewards.combine import combine_group_normalized, combine_weighted
from .rewards.config import local_scores
from .rewards.format import answer_text, format_reward
from .rewards.group_barrier import get_barrier
from .run_config import RewardOptions, options_from_config, plain

__all__ = ["ParallelRewardManager", "PairwiseJudgeRewardManager", "RewardOptions", "options_from_config",
           "parse_sample"]

log = logging.getLogger("writing_rl.reward")

POOL_REPORT_EVERY_S = 5.0

def parse_sample(ground_truth: Any, extra_info: dict[str, Any] | None) -> GroundTruth:
    """Read ``reward_model.ground_truth``; a problem stops training, naming the sample and the field."""
    try:
        return GroundTruth.parse(ground_truth, (extra_info or {}).get("index"))
    except GroundTruthError as e:
        raise CurriculumError(str(e)) from None


@register("parallel")
class PairwiseJudgeRewardManager(RewardManagerBase):
    """Pairwise-judge rewards with Dynamic Reference Scheduling (see the module docstring)."""

    def __init__(self, config: Any, tokenizer: Any, compute_score: Any = None, reward_router_address: Any = None,
                 reward_model_tokenizer: Any = None, **kwargs: Any) -> None:
        super().__init__(config, tokenizer, compute_score)
        self.opts, self.settings, self.reward_cfg = options_from_config(config)
        self.judge = PairwiseJudge(self.settings) if "pairwise" in self.reward_cfg.components else None
        self.rollout_n = int(config.actor_rollout_ref.rollout.get("n", 1) or 1)
        self._trainer_cfg = plain(config.get("trainer", None))
        self._owner: ActorHandle | None = None
        o = self.opts
        self.monitor = get_monitor(o.experiment, o.max_failed_share, o.failure_check_min)
        self.barrier = get_barrier(o.experiment) if self.reward_cfg.mode == "group-normalized" else None
        self._pool_reported = 0.0

    @property
    def owner(self) -> ActorHandle:
        """The curriculum owner, found (or, without the writing_rl trainer, created) at the first rollout."""
        if self._owner is None:
            self._owner = get_owner(self.opts.curriculum(), self._trainer_cfg)
        return self._owner

    def _decode(self, item: Any) -> str:
        ids = item.batch["responses"]
        valid = int(item.batch["attention_mask"][-ids.shape[-1]:].sum())
        return self.tokenizer.decode(ids[:valid], skip_special_tokens=True)

    def _well_formed(self, response: str) -> bool:
        if self.reward_cfg.layout == "think-answer":
            return format_reward(response, think_tag=self.reward_cfg.think_tag,
                                 answer_tag=self.reward_cfg.answer_tag).score == 1.0
        low = response.lower()
        return bool(strip_reasoning(response)) and low.count("<think>") == low.count("</think>")

    async def run_single(self, data: DataProto) -> dict[str, Any]:
        try:
            return await self._score(data)
        except Exception as e:
            # verl's agent loop turns this into a failed prompt group and trains on; the monitor keeps the
            # reason so that the writing_rl trainer stops the run before the step's update.
            try:
                await self.monitor.fail(root_message(e))
            except Exception:  # the monitor itself is gone: the trainer notices that too
                log.exception("could not report a fatal reward error to the reward monitor")
            raise

    async def _judge(self, sample: GroundTruth, level: int, response: str) -> tuple[str, Any]:
        """The judge's outcome for ``response`` against reference ``level`` and its judgment (None without one)."""
        cfg = self.reward_cfg
        answer = answer_text(response, cfg.layout, think_tag=cfg.think_tag, answer_tag=cfg.answer_tag,
                             think_opened=cfg.think_opened)
        try:
            j = await self.judge.compare(sample.prompt, sample.target[level], answer, sample.criteria,
                                         self.opts.strategy)
        except JudgeInputError as e:
            if e.field != "response":
                raise CurriculumError(f"sample {sample.id}, reference level {level}: {e}") from None
            return "empty", None
        return j.outcome, j

    async def _score(self, data: DataProto) -> dict[str, Any]:
        started = time.time()
        item = data[-1:][0]
        nt = item.non_tensor_batch
        response = await asyncio.get_running_loop().run_in_executor(None, self._decode, item)
        extra_info = dict(nt.get("extra_info") or {})
        validation = str(extra_info.get("split", "train")) != "train"
        step = int(nt.get("global_steps", 0) or 0)
        sample = parse_sample(nt["reward_model"]["ground_truth"], extra_info)
        level = await self.owner.level_for(sample.id, step, len(sample.target), validation)

        values: dict[str, float | None] = {
            name: r.score for name, r in local_scores(response, sample.prompt, sample.raw,
                                                      self.reward_cfg).items()
        }
        outcome, j = "none", None
        if self.judge is not None:
            # no answer to judge: it scores as a loss, without asking the judge
            outcome, j = ("empty", None) if "pairwise" in values else await self._judge(sample, level, response)
            o = self.opts
            values["pairwise"] = {"win": o.win_value, "tie": o.tie_value, "loss": o.loss_value,
                                  "empty": o.loss_value}.get(outcome)
            if values["pairwise"] is not None and o.format_bonus and self._well_formed(response):
                values["pairwise"] += o.format_bonus

        reward = await self._combine(nt, values, validation)
        await self.owner.record(sample.id, step, outcome, validation)
        extra = {
            "outcome": outcome,
            "reference_level": level,
            "judge_win": int(outcome == "win"),
            "judge_tie": int(outcome == "tie"),
            "judge_loss": int(outcome in ("loss", "empty")),
            "judge_failed": int(outcome == "failed"),
            "judge_latency_s": float(j.latency_s if j else 0.0),
            "judge_attempts": int(j.attempts if j else 0),
            "curriculum_step": step,
        }
        for name in self.reward_cfg.components:
            v = values.get(name)
            extra[f"reward_{name}"] = float("nan") if v is None else float(v)
        telemetry = {"judge_prompt_tokens": j.prompt_tokens, "judge_completion_tokens": j.completion_tokens,
                     "judge_cached_prompt_tokens": j.cached_prompt_tokens, "judge_failure_reason": j.reason
                     } if j else {}
        await self.monitor.observe(step, {**extra, **telemetry, "reward_span": (started, time.time())}, validation,
                                   *self._pool_metrics())
        return {"reward_score": float(reward), "reward_extra_info": extra}

    def _pool_metrics(self) -> tuple[dict[str, float] | None, str]:
        """Every few seconds, this worker's judge-pool counters and its name (a pool of endpoints only)."""
        if self.judge is None or time.monotonic() - self._pool_reported < POOL_REPORT_EVERY_S:
            return None, "?"
        backend = self.judge.client.backend
        if not hasattr(backend, "metrics"):
            return None, "?"
        self._pool_reported = time.monotonic()
        return backend.metrics(), f"{socket.gethostname()}:{os.getpid()}"

    async def _combine(self, nt: Any, values: dict[str, float | None], validation: bool) -> float:
        weights = self.reward_cfg.components
        if self.barrier is not None and not validation and self.rollout_n > 1:
            uid = str(nt.get("uid", "")) or uuid.uuid4().hex
            member = uuid.uuid4().hex
            group = await self.barrier.gather(uid, self.rollout_n, member, values, self.opts.group_timeout_s)
            keys = sorted(group)
            combined = combine_group_normalized([group[k] for k in keys], weights)
            mine = combined[keys.index(member)]
            return 0.0 if mine is None else mine  # a failed judgment is neutral within its group
        filled = {k: (self.opts.neutral if (k == "pairwise" and v is None) else v) for k, v in values.items()}
        total = combine_weighted(filled, weights)
        return self.opts.neutral if total is None else total


ParallelRewardManager = PairwiseJudgeRewardManager  # the name this class had before; configs use "parallel"
