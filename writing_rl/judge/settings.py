"""Judge settings: one dataclass, read from the environment or from verl's config, never holding a key.

On the machine that launches a run the ``JUDGE_*`` variables are parsed once (``from_env``) and sent
to verl as ``+reward.reward_kwargs.judge.*`` overrides (``hydra_overrides``), so every reward worker
on every node reads the same settings from the config (``from_mapping``, which ignores the worker's
environment) and the logged config records them. Only API keys come from the environment, at call
time (``api_key()``); they are never stored on the settings object, so printing or logging settings
cannot leak them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from ..redact import public_url
from .errors import JudgeConfigError

BACKENDS = ("openai", "dashscope")
KEY_ENV = {"openai": "OPENAI_API_KEY", "dashscope": "DASHSCOPE_API_KEY"}
DEFAULT_MODEL = "gpt-4o-mini"


def _from_text(name: str, raw: Any, kind: str) -> Any:
    """One environment value as its field's type (``kind``: the annotation); empty means unset (None)."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    if kind.startswith("bool"):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise JudgeConfigError(f"{name}={text.lower()!r} must be 1/true or 0/false; fix or unset it")
    for cast in (int, float):
        if kind.startswith(cast.__name__):
            try:
                return cast(raw)
            except ValueError:
                raise JudgeConfigError(f"{name}={raw!r} is not a valid {cast.__name__}; fix or unset it") from None
    return raw


def infer_backend(model: str, explicit: str | None) -> str:
    """Pick the backend: ``JUDGE_BACKEND`` if set, else the original rule (``qwen*`` -> DashScope).

    The one place this rule lives: the launcher asks ``writing_rl.launch_check`` rather than repeating it.
    """
    if explicit:
        b = explicit.strip().lower()
        if b not in BACKENDS:
            raise JudgeConfigError(f"JUDGE_BACKEND={explicit!r} is not one of {', '.join(BACKENDS)}")
        return b
    return "dashscope" if model.lower().startswith("qwen") else "openai"


def is_local_url(url: str | None) -> bool:
    if not url:
        return False
    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def hydra_value(value: Any) -> str:
    """One override value: numbers and booleans bare, ``None`` as ``null``, strings single-quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("'", "\\'")
    return f"'{text}'"


def _env(name: str, default: Any, minimum: float | None = None, exclusive: bool = False, unit: str = "") -> Any:
    """A field read from the environment variable ``name`` by ``from_env`` (its type from the annotation),
    checked against ``minimum`` (``exclusive``: the value must exceed it) whatever its source."""
    return field(default=default, metadata={"env": name, "min": minimum, "exclusive": exclusive, "unit": unit})


@dataclass(frozen=True)
class JudgeSettings:
    """Everything the judge client needs except the secret key."""

    model: str = DEFAULT_MODEL
    backend: str = "openai"
    base_url: str | None = _env("JUDGE_BASE_URL", None)
    concurrency: int = _env("API_PARALLEL", 64, minimum=1)
    rpm: float | None = _env("JUDGE_RPM", None)
    tpm: float | None = _env("JUDGE_TPM", None)
    timeout_s: float = _env("JUDGE_TIMEOUT", 180.0, minimum=0, exclusive=True, unit=" seconds")
    max_retries: int = _env("JUDGE_MAX_RETRIES", 6, minimum=0)
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    temperature: float = _env("JUDGE_TEMPERATURE", 0.0)
    max_tokens: int = _env("JUDGE_MAX_TOKENS", 2048)
    max_candidate_chars: int = _env("JUDGE_MAX_CHARS", 48000, minimum=200)
    template: str | None = _env("JUDGE_TEMPLATE", None)
    criteria_template: str | None = _env("JUDGE_CRITERIA_TEMPLATE", None)
    extra_body: dict[str, Any] = field(default_factory=dict)
    # a pool endpoint is taken out after this many failures in a row, for this many seconds before a probe
    pool_eject_after: int = _env("JUDGE_POOL_EJECT_AFTER", 3, minimum=1)
    pool_cooldown_s: float = _env("JUDGE_POOL_COOLDOWN", 30.0, minimum=0.001, unit=" seconds")
    requires_key: bool = _env("JUDGE_REQUIRES_KEY", True)  # False: a judge without authentication

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise JudgeConfigError(f"judge backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        for f in dataclasses.fields(self):  # the bounds are declared on the fields (``_env``)
            low, value = f.metadata.get("min"), getattr(self, f.name)
            if low is not None and (value <= low if f.metadata["exclusive"] else value < low):
                bound = ("more than " if f.metadata["exclusive"] else "at least ") + f"{low}{f.metadata['unit']}"
                raise JudgeConfigError(f"{f.metadata['env']} must be {bound}, got {value}")

    @property
    def key_env(self) -> str:
        return KEY_ENV[self.backend]

    def api_key(self, env: Mapping[str, str] | None = None) -> str:
        """Return the key from the environment, or raise naming the variable to set."""
        env = os.environ if env is None else env
        key = (env.get(self.key_env) or "").strip()
        if key:
            return key
        if not self.requires_key or (self.backend == "openai" and is_local_url(self.base_url)):
            return "EMPTY"  # a local vLLM judge needs no key
        hint = (
            f"{self.key_env} is not set: export it (or put it in an untracked .env file) before running. "
            "On a multi-node Ray cluster it must be set on every node before `ray start`."
        )
        if self.backend == "openai":
            hint += " For a judge without authentication set it to EMPTY."
        raise JudgeConfigError(hint)

    def replace(self, **changes: Any) -> JudgeSettings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def public_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (safe to log: it never contains a key)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> JudgeSettings:
        """Read ``JUDGE_*`` / ``API_PARALLEL`` variables; keyword overrides win when not None."""
        env = os.environ if env is None else env
        model = overrides.pop("model", None) or env.get("JUDGE_MODEL") or DEFAULT_MODEL
        backend = infer_backend(model, overrides.pop("backend", None) or env.get("JUDGE_BACKEND"))
        values: dict[str, Any] = {"model": model, "backend": backend}
        for f in dataclasses.fields(cls):
            if "env" in f.metadata:
                value = _from_text(f.metadata["env"], env.get(f.metadata["env"]), str(f.type))
                if value is not None:
                    values[f.name] = value
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def hydra_overrides(self, prefix: str = "+reward.reward_kwargs.judge.") -> list[str]:
        """Every setting as a Hydra override (values quoted like the launcher's ``q``); ``None`` -> ``null``.

        ``base_url`` goes without user info: verl prints its config, and it shows in ``ps`` and wandb.
        """
        out = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                if value:
                    raise JudgeConfigError(f"judge setting {f.name} cannot be passed on the command line")
                continue
            if f.name == "base_url" and value and "@" in value:
                value = public_url(value)  # the password stays in JUDGE_BASE_URL; workers add it back
            out.append(f"{prefix}{f.name}={hydra_value(value)}")
        return out

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | None) -> JudgeSettings:
        """Settings from verl's ``reward.reward_kwargs.judge`` alone; unset keys take the defaults.

        The worker's environment is not consulted (it differs from node to node); the launcher puts
        every ``JUDGE_*`` variable into the config. Keys are still read from the environment.
        """
        cfg = dict(cfg or {})
        unknown = set(cfg) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise JudgeConfigError(
                f"unknown judge setting(s) {sorted(unknown)} in reward.reward_kwargs.judge; "
                f"known: {sorted(f.name for f in dataclasses.fields(cls))}"
            )
        return cls.from_env({}, **cfg)
