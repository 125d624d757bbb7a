"""The numbers the launch arithmetic checks (``LaunchPlan``), from the launcher's settings or verl's config."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "info"

DEFAULT_TOKEN_LEN = 16384  # verl's actor.ppo_max_token_len_per_gpu default
MEMORY_CEILING = 0.9  # rollout + local judge share of one card; the rest is for CUDA contexts and FSDP state


def default_token_len(max_prompt_length: int, max_response_length: int) -> int:
    """The launcher's ``PPO_MAX_TOKEN_LEN_PER_GPU`` default: verl's 16384, or one full sequence if longer."""
    return max(DEFAULT_TOKEN_LEN, max_prompt_length + max_response_length)


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class LaunchPlan:
    """The numbers verl's runtime assertions depend on (launcher variable names in the comments)."""

    nnodes: int = 1  # NNODES
    gpus_per_node: int = 1  # N_GPUS_PER_NODE
    train_batch_size: int = 16  # TRAIN_BATCH_SIZE
    mini_batch_size: int = 8  # PPO_MINI_BATCH_SIZE (actor; the critic's follows it unless set)
    rollout_n: int = 1  # ROLLOUT_N
    max_prompt_length: int = 1024  # MAX_PROMPT_LENGTH
    max_response_length: int = 4096  # MAX_RESPONSE_LENGTH
    # per-GPU token budgets by role (PPO_MAX_TOKEN_LEN_PER_GPU for all of them in the launcher);
    # a role that does not run (no critic for GRPO, no reference model for PPO) is absent
    token_lens: dict[str, int] = field(default_factory=dict)
    critic_mini_batch_size: int | None = None  # critic.ppo_mini_batch_size if a critic runs (None: follows actor's)
    rollout_tp: int = 1  # ROLLOUT_TP
    rollout_gpu_util: float = 0.4  # ROLLOUT_GPU_UTIL
    local_judge_gpu_util: float | None = None  # LOCAL_JUDGE_GPU_UTIL, when the launcher serves the judge
    max_model_len: int | None = None  # ROLLOUT_MAX_MODEL_LEN (None: the model's max_position_embeddings)
    max_position_embeddings: int | None = None  # from the model's config.json, when it is available here
    num_attention_heads: int | None = None

    @property
    def total_gpus(self) -> int:
        return self.nnodes * self.gpus_per_node

    @classmethod
    def for_launcher(cls, algo: str, token_len: int | None = None, model: str | None = None,
                     **values: Any) -> LaunchPlan:
        """The plan for ``scripts/train_writing_rl.sh`` settings: PPO runs a critic, GRPO a reference model."""
        p, r = values.get("max_prompt_length", 1024), values.get("max_response_length", 4096)
        budget = token_len or default_token_len(p, r)
        roles = {"actor": budget, "actor log-prob": budget}
        roles.update({"critic": budget} if algo == "ppo" else {"ref": budget})
        ctx = model_context(model) if model else {}
        return cls(token_lens=roles, **ctx, **values)

    @classmethod
    def from_verl_config(cls, cfg: Any, local_judge_gpu_util: float | None = None) -> LaunchPlan:
        """The plan verl will actually run, read from a composed ``ppo_trainer`` config (no model is loaded)."""
        # verl's config classes load torch: imported only when a composed verl config is checked
        from verl.trainer.ppo.utils import need_critic, need_reference_policy
        from verl.workers.config import CriticConfig

        arr = cfg.actor_rollout_ref
        roles = {"actor": int(arr.actor.ppo_max_token_len_per_gpu),
                 "actor log-prob": int(arr.rollout.log_prob_max_token_len_per_gpu)}
        if need_reference_policy(cfg):
            roles["ref"] = int(arr.ref.log_prob_max_token_len_per_gpu)
        critic_mini = None
        if need_critic(cfg):
            # trainer/ppo/v1/trainer_base.py:267-268: both critic passes use ppo_infer_max_token_len_per_gpu, a
            # CriticConfig field missing from verl's yaml (so its dataclass default applies unless set with '+')
            default = {f.name: f.default for f in dataclasses.fields(CriticConfig)}["ppo_infer_max_token_len_per_gpu"]
            roles["critic"] = int(cfg.critic.get("ppo_infer_max_token_len_per_gpu", default))
            critic_mini = int(cfg.critic.ppo_mini_batch_size)
        return cls(
            nnodes=int(cfg.trainer.nnodes), gpus_per_node=int(cfg.trainer.n_gpus_per_node),
            train_batch_size=int(cfg.data.train_batch_size), mini_batch_size=int(arr.actor.ppo_mini_batch_size),
            rollout_n=int(arr.rollout.n), max_prompt_length=int(cfg.data.max_prompt_length),
            max_response_length=int(cfg.data.max_response_length), token_lens=roles,
            critic_mini_batch_size=critic_mini, rollout_tp=int(arr.rollout.tensor_model_parallel_size),
            rollout_gpu_util=float(arr.rollout.gpu_memory_utilization), local_judge_gpu_util=local_judge_gpu_util,
            max_model_len=arr.rollout.max_model_len, **model_context(str(arr.model.path)),
        )


def model_context(model: str) -> dict[str, int | None]:
    """``max_position_embeddings`` / ``num_attention_heads`` from the model's config.json, if it is on this machine.

    A local folder, or the Hugging Face cache (never a download). Missing values are ``None``.
    """
    path = os.path.join(model, "config.json")
    if not os.path.isfile(path):
        path = ""
        try:
            from huggingface_hub import try_to_load_from_cache  # optional: absent without transformers

            found = try_to_load_from_cache(model, "config.json")
            path = found if isinstance(found, str) else ""
        except Exception:  # not an HF id, no hub library: the context is unknown
            path = ""
    if not path:
        return {"max_position_embeddings": None, "num_attention_heads": None}
    try:
        with open(path, encoding="utf-8") as f:
            conf = json.load(f)
    except (OSError, ValueError):
        return {"max_position_embeddings": None, "num_attention_heads": None}
    text = conf.get("text_config") or {}

    def pick(key: str) -> int | None:  # as verl's workers/rollout/utils.py get_max_position_embeddings
        value = conf.get(key, text.get(key) if isinstance(text, dict) else None)
        return int(value) if isinstance(value, int | float) else None

    return {key: pick(key) for key in ("max_position_embeddings", "num_attention_heads")}
