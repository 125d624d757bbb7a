"""Compose verl 0.9.1's real Hydra config (``ppo_trainer``) with overrides, as ``main_ppo`` would."""

from __future__ import annotations

import os
import sys
from typing import Any

import yaml
from omegaconf import OmegaConf

from .launch_check import LaunchPlan, failures
from .launch_check import check as launch_checks
from .redact import redact_config, scrub


def verl_config_dir() -> str:
    import verl.trainer.config as cfg_pkg  # verl (and torch) load only when a config is composed

    return os.path.dirname(os.path.abspath(cfg_pkg.__file__))


def compose(overrides: list[str], config_name: str = "ppo_trainer") -> Any:
    """The composed ``DictConfig`` for ``python -m verl.trainer.main_ppo <overrides>``."""
    from hydra import compose as hydra_compose  # verl's config library, with verl: only when composing
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def _model_unavailable(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) or "huggingface" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def check(overrides: list[str], allow_missing_model: bool = False) -> tuple[Any, list[str]]:
    """Compose, resolve Writing-RL's reward manager and trainer through verl, and validate as ``main_ppo`` does.

    Then the pre-launch arithmetic (``launch_check``) on the composed config, so overrides passed through to verl
    are checked too: a ``FAIL`` raises ``ValueError``.

    With ``allow_missing_model``, a model that is neither a local folder nor in the Hugging Face cache
    only skips verl's model-dependent validation (returned as a warning) instead of failing.
    """
    from verl.trainer.ppo.reward import resolve_reward_manager_cls  # verl loads torch: only when checking
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    cfg = compose(overrides)
    cls = resolve_reward_manager_cls(cfg)
    if cls.__module__ != "writing_rl.reward_manager":
        raise RuntimeError(f"the composed config resolves the reward manager to {cls.__module__}.{cls.__name__}, "
                           "not Writing-RL's: check the reward.* overrides")
    if cfg.trainer.use_v1:
        from verl.trainer.ppo.v1 import get_trainer_cls

        get_trainer_cls(cfg.trainer.v1.trainer_mode)
    warnings: list[str] = []
    try:
        validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    except Exception as e:
        if not (allow_missing_model and _model_unavailable(e)):
            raise
        warnings.append(f"model {cfg.actor_rollout_ref.model.path} is not available on this machine (not a local "
                        "folder, not in the Hugging Face cache): verl's model-dependent checks were skipped")
    failed = failures(launch_checks(LaunchPlan.from_verl_config(cfg)))  # what verl asserts only at run time
    if failed:
        raise ValueError("; ".join(f"{f.check}: {f.detail} (fix: {f.fix})" for f in failed))
    return cfg, warnings


def main(argv: list[str] | None = None) -> int:
    """``python -m writing_rl.verl_config [--quiet] [--allow-missing-model] OVERRIDES...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    flags = {a for a in args if a in ("--quiet", "--allow-missing-model")}
    args = [a for a in args if a not in flags]
    if "--allow-missing-model" in flags:
        model = next((a.split("=", 1)[1].strip("'") for a in args if a.startswith("actor_rollout_ref.model.path=")),
                     "")
        if model and not os.path.isdir(model):
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # fail fast instead of retrying a download
    try:
        cfg, warnings = check(args, allow_missing_model="--allow-missing-model" in flags)
    except Exception as e:  # composition and validation errors are the user's to fix
        print(scrub(f"error: verl rejected the configuration: {type(e).__name__}: {e}"), file=sys.stderr)
        return 2
    if "--quiet" not in flags:
        print(yaml.safe_dump(redact_config(OmegaConf.to_container(cfg, resolve=False)), sort_keys=False, width=120))
    for w in warnings:
        print(scrub(f"warning: {w}"))
    print("verl config: composed and validated; reward manager = parallel (writing_rl PairwiseJudgeRewardManager), "
          f"trainer mode = {cfg.trainer.v1.trainer_mode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
