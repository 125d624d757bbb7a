"""Compose verl 0.9.1's real Hydra config (``ppo_trainer``) with overrides, as ``main_ppo`` would."""

from __future__ import annotations

import os
from typing import Any

SECRET_MARKERS = ("API_KEY", "TOKEN", "SECRET", "PASSWORD")


def verl_config_dir() -> str:
    import verl.trainer.config as cfg_pkg

    return os.path.dirname(os.path.abspath(cfg_pkg.__file__))


def compose(overrides: list[str], config_name: str = "ppo_trainer") -> Any:
    """The composed ``DictConfig`` for ``python -m verl.trainer.main_ppo <overrides>``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def redact(obj: Any) -> Any:
    """A copy of a plain config tree with any secret-looking value replaced (for printing/logging)."""
    if isinstance(obj, dict):
        return {k: ("<redacted>" if any(m in str(k).upper() for m in SECRET_MARKERS) else redact(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    return obj
