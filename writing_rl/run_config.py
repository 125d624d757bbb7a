"""Reward settings, parsed once from verl's config (``reward.reward_kwargs``) into ``RewardOptions``.

Used by the reward manager in every reward worker and by the trainer in the driver. It imports no
verl module, so the trainer can use it while verl is still loading its plugins.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from .curriculum.state import CurriculumConfig
from .judge import STRATEGIES, JudgeSettings
from .redact import with_credentials
from .rewards.config import RewardConfig

_OPTION_KEYS = {
    "experiment", "index_file", "strategy", "win_value", "tie_value", "loss_value", "failed_value",
    "format_bonus", "advance_rule", "reference_mode", "val_reference_mode", "max_failed_share",
    "failure_check_min", "judge", "components", "combine", "layout", "reward", "group_timeout_s",
}


def plain(obj: Any) -> Any:
    """OmegaConf containers to plain Python (without importing omegaconf at module import)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(obj, DictConfig | ListConfig):
            return OmegaConf.to_container(obj, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return obj


@dataclass(frozen=True)
class RewardOptions:
    """Everything under ``reward.reward_kwargs``, validated once per worker."""

    experiment: str
    index_file: str
    strategy: str = "position-disadvantage"
    win_value: float = 1.0
    tie_value: float = 0.5
    loss_value: float = 0.0
    failed_value: float | None = None
    format_bonus: float = 0.0
    advance_rule: str = "any"
    reference_mode: str = "dynamic"
    val_reference_mode: str = "best"
    max_failed_share: float = 0.2
    failure_check_min: int = 32
    group_timeout_s: float = 900.0

    @property
    def neutral(self) -> float:
        return self.tie_value if self.failed_value is None else self.failed_value

    def curriculum(self) -> dict[str, Any]:
        cfg = dict(index_file=self.index_file, experiment=self.experiment, rule=self.advance_rule,
                   mode=self.reference_mode, val_mode=self.val_reference_mode,
                   max_failed_share=self.max_failed_share, failure_check_min=self.failure_check_min)
        CurriculumConfig(**cfg)  # validate here, in the worker, with a clear error
        return cfg


def options_from_config(config: Any) -> tuple[RewardOptions, JudgeSettings, RewardConfig]:
    """Parse ``reward.reward_kwargs`` of verl's config; unknown keys are an error, not ignored."""
    kw = dict(plain(config.reward.get("reward_kwargs", None)) or {})
    unknown = set(kw) - _OPTION_KEYS
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} under reward.reward_kwargs; known: {sorted(_OPTION_KEYS)}")
    experiment = str(kw.pop("experiment", None) or config.trainer.get("experiment_name") or "default")
    index_file = kw.pop("index_file", None) or os.path.join("running_file", f"index_{experiment}.json")
    judge_cfg = dict(kw.pop("judge", None) or {})
    reward_cfg = RewardConfig.from_env(
        {}, components=kw.pop("components", None) or "pairwise:1.0", mode=kw.pop("combine", None) or "weighted",
        layout=kw.pop("layout", None) or "plain", **(kw.pop("reward", None) or {}),
    )
    opts = RewardOptions(experiment=experiment, index_file=os.path.abspath(str(index_file)), **kw)
    if opts.strategy not in STRATEGIES:
        raise ValueError(f"reward.reward_kwargs.strategy={opts.strategy!r} is not one of {', '.join(STRATEGIES)}")
    opts.curriculum()
    settings = JudgeSettings.from_mapping(judge_cfg)
    if settings.base_url:  # the config may hold the URL without its password; the environment supplies it
        settings = settings.replace(base_url=with_credentials(settings.base_url))
    workers = max(1, int(config.reward.get("num_workers", 1) or 1))
    if workers > 1:  # API_PARALLEL and the rate limits are totals over all reward workers
        settings = settings.replace(
            concurrency=max(1, math.ceil(settings.concurrency / workers)),
            rpm=settings.rpm / workers if settings.rpm else None,
            tpm=settings.tpm / workers if settings.tpm else None,
        )
    return opts, settings, reward_cfg
