"""The judge cost of a training run, from the audit's measured tokens and the launcher's settings.

Calls per step = ``TRAIN_BATCH_SIZE`` x ``ROLLOUT_N`` x (2 for ``both-orders``, else 1). Steps =
``trainer.total_training_steps`` when given, else ``TOTAL_EPOCHS`` x (training rows //
``TRAIN_BATCH_SIZE``): verl's training dataloader drops the last partial batch
(``verl/trainer/ppo/v1/trainer_base.py``: ``drop_last=True``, ``steps_per_epoch = len // batch``).
Defaults are the launcher's (``scripts/train_writing_rl.sh``). An audit prompt holds two
references where a training prompt holds a reference and a response, so its tokens stand in for a
training judgment's. Prices (``JUDGE_PRICE_INPUT``, ``JUDGE_PRICE_CACHED_INPUT``,
``JUDGE_PRICE_OUTPUT``, USD per million tokens) are optional; without them the cost is in tokens.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..eval.data import EvalInputError
from ..judge.compare import STRATEGIES

PRICE_ENV = {"input": "JUDGE_PRICE_INPUT", "cached_input": "JUDGE_PRICE_CACHED_INPUT", "output": "JUDGE_PRICE_OUTPUT"}


def _env_num(env: Mapping[str, str], name: str, cast: type, default: Any) -> Any:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise EvalInputError(f"{name}={raw!r} is not a valid {cast.__name__}; fix or unset it") from None
    if value < 0:
        raise EvalInputError(f"{name}={raw!r} must not be negative")
    return value


@dataclass(frozen=True)
class LaunchSettings:
    """What the launcher would run: batch, rollouts per prompt, epochs or steps, strategy."""

    train_batch_size: int = 16
    rollout_n: int = 1
    epochs: int = 2
    total_steps: int | None = None
    strategy: str = "position-disadvantage"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> LaunchSettings:
        env = os.environ if env is None else env
        algo = (env.get("ALGO") or ("grpo" if env.get("PRESET") == "longwriter-zero" else "ppo")).strip()
        values = {
            "train_batch_size": _env_num(env, "TRAIN_BATCH_SIZE", int, 16),
            "rollout_n": _env_num(env, "ROLLOUT_N", int, 8 if algo == "grpo" else 1),
            "epochs": _env_num(env, "TOTAL_EPOCHS", int, 2),
            "strategy": (env.get("REWARD_STRATEGY") or "position-disadvantage").strip(),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["strategy"] not in STRATEGIES:
            raise EvalInputError(f"REWARD_STRATEGY={values['strategy']!r} is not one of {', '.join(STRATEGIES)}")
        for name in ("train_batch_size", "rollout_n", "epochs"):
            if values[name] < 1:
                raise EvalInputError(f"{name} must be at least 1, got {values[name]}")
        return cls(**values)

    @property
    def calls_per_step(self) -> int:
        return self.train_batch_size * self.rollout_n * (2 if self.strategy == "both-orders" else 1)

    def steps(self, train_rows: int) -> int:
        return self.total_steps if self.total_steps is not None else self.epochs * (train_rows // self.train_batch_size)


def prices_from_env(env: Mapping[str, str] | None = None) -> dict[str, float] | None:
    """USD per million tokens, or None when no price is set (cached input defaults to the input price)."""
    env = os.environ if env is None else env
    got = {k: _env_num(env, name, float, None) for k, name in PRICE_ENV.items()}
    if all(v is None for v in got.values()):
        return None
    if got["input"] is None or got["output"] is None:
        raise EvalInputError("set both JUDGE_PRICE_INPUT and JUDGE_PRICE_OUTPUT (USD per million tokens), or neither")
    if got["cached_input"] is None:
        got["cached_input"] = got["input"]
    return got


def estimate(tokens: dict[str, Any], launch: LaunchSettings, train_rows: int,
             prices: dict[str, float] | None) -> dict[str, Any]:
    """Tokens and (with prices) USD per judgment, per step and per run."""
    prompt, completion = tokens.get("prompt_per_judgment"), tokens.get("completion_per_judgment")
    steps = launch.steps(train_rows)
    out: dict[str, Any] = {"launch": asdict(launch), "train_rows": train_rows, "calls_per_step": launch.calls_per_step,
                           "steps": steps, "calls_per_run": launch.calls_per_step * steps, "prices_per_million": prices}
    if prompt is None or completion is None:
        out.update({"tokens_per_step": None, "tokens_per_run": None, "usd_per_step": None, "usd_per_run": None})
        return out
    per_call = prompt + completion
    out["tokens_per_step"] = per_call * launch.calls_per_step
    out["tokens_per_run"] = per_call * launch.calls_per_step * steps
    if prices is None:
        out["usd_per_judgment"] = out["usd_per_step"] = out["usd_per_run"] = None
        return out
    cached = prompt * (tokens.get("cached_share") or 0.0) / 100.0
    usd = ((prompt - cached) * prices["input"] + cached * prices["cached_input"] + completion * prices["output"]) / 1e6
    out["usd_per_judgment"] = usd
    out["usd_per_step"] = usd * launch.calls_per_step
    out["usd_per_run"] = usd * launch.calls_per_step * steps
    return out
