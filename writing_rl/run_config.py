"""Reward settings, parsed once from verl's config (``reward.reward_kwargs``) into typed dataclasses.

The structure is ``RewardOptions``: verl's ``omega_conf_to_dataclass`` merges the keys into it, so an
unknown key or a value of the wrong type is rejected by the dataclass itself. ``judge`` is parsed by
``JudgeSettings.from_mapping`` and ``components``/``combine``/``layout``/``reward`` by ``RewardConfig``.
Used by the reward manager in every reward worker and by the trainer in the driver. It imports no
verl module that loads plugins, so the trainer can use it while verl is still loading its plugins.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError
from verl.utils.config import omega_conf_to_dataclass

from .curriculum.levels import CurriculumConfig
from .judge import STRATEGIES, JudgeSettings
from .redact import with_credentials
from .rewards.config import RewardConfig


def plain(obj: Any) -> Any:
    """OmegaConf containers to plain Python."""
    if isinstance(obj, DictConfig | ListConfig):
        return OmegaConf.to_container(obj, resolve=True)
    return obj


# OmegaConf reads these annotations at run time: they stay typing forms (Optional, Any), not ``X | None``.
@dataclass
class RewardOptions:
    """Everything under ``reward.reward_kwargs`` (see README "Reward settings and metrics")."""

    experiment: str = ""  # "" -> trainer.experiment_name
    index_file: str = ""  # "" -> running_file/index_<experiment>.json
    strategy: str = "position-disadvantage"
    win_value: float = 1.0
    tie_value: float = 0.5
    loss_value: float = 0.0
    failed_value: Optional[float] = None  # noqa: UP045
    format_bonus: float = 0.0
    advance_rule: str = "any"
    reference_mode: str = "dynamic"
    val_reference_mode: str = "best"
    max_failed_share: float = 0.2
    failure_check_min: int = 32
    group_timeout_s: float = 900.0
    judge: dict[str, Any] = field(default_factory=dict)
    components: Any = None  # a spec string ("pairwise:1.0,length:1.0") or a name -> weight mapping
    combine: Optional[str] = None  # noqa: UP045
    layout: Optional[str] = None  # noqa: UP045
    reward: dict[str, Any] = field(default_factory=dict)

    @property
    def neutral(self) -> float:
        return self.tie_value if self.failed_value is None else self.failed_value

    def curriculum(self) -> dict[str, Any]:
        cfg = dict(index_file=self.index_file, experiment=self.experiment, rule=self.advance_rule,
                   mode=self.reference_mode, val_mode=self.val_reference_mode)
        CurriculumConfig(**cfg)  # validate here, in the worker, with a clear error
        return cfg


def _parse(kwargs: Any) -> RewardOptions:
    try:
        return omega_conf_to_dataclass(plain(kwargs) or {}, RewardOptions)
    except ConfigKeyError as e:
        known = sorted(f.name for f in dataclasses.fields(RewardOptions))
        raise ValueError(f"unknown key(s) [{str(e.key)!r}] under reward.reward_kwargs; known: {known}") from None
    except ValidationError as e:
        raise ValueError(f"reward.reward_kwargs.{e.full_key}: {str(e).splitlines()[0]}") from None


def options_from_config(config: Any) -> tuple[RewardOptions, JudgeSettings, RewardConfig]:
    """Parse ``reward.reward_kwargs`` of verl's config; unknown keys are an error, not ignored."""
    opts = _parse(config.reward.get("reward_kwargs", None))
    experiment = opts.experiment or str(config.trainer.get("experiment_name") or "default")
    index_file = opts.index_file or os.path.join("running_file", f"index_{experiment}.json")
    opts = dataclasses.replace(opts, experiment=experiment, index_file=os.path.abspath(index_file))
    if opts.strategy not in STRATEGIES:
        raise ValueError(f"reward.reward_kwargs.strategy={opts.strategy!r} is not one of {', '.join(STRATEGIES)}")
    if not 0 <= opts.max_failed_share <= 1:
        raise ValueError(f"reward.reward_kwargs.max_failed_share must be within [0, 1], got {opts.max_failed_share}")
    opts.curriculum()
    reward_cfg = RewardConfig.from_env({}, components=opts.components or "pairwise:1.0",
                                       mode=opts.combine or "weighted", layout=opts.layout or "plain", **opts.reward)
    settings = JudgeSettings.from_mapping(opts.judge)
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
