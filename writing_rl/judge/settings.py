"""Judge settings: one dataclass, read from the environment or from verl's config, never holding a key.

API keys are read from the environment at call time (``api_key()``) and are never stored on the
settings object, so printing or logging settings cannot leak them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from .errors import JudgeConfigError

BACKENDS = ("openai", "dashscope")
KEY_ENV = {"openai": "OPENAI_API_KEY", "dashscope": "DASHSCOPE_API_KEY"}
DEFAULT_MODEL = "gpt-4o-mini"


def _num(env: Mapping[str, str], name: str, cast: type, default: Any) -> Any:
    raw = env.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        return cast(raw)
    except ValueError:
        raise JudgeConfigError(f"{name}={raw!r} is not a valid {cast.__name__}; fix or unset it") from None


def infer_backend(model: str, explicit: str | None) -> str:
    """Pick the backend: ``JUDGE_BACKEND`` if set, else the original rule (``qwen*`` -> DashScope)."""
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


@dataclass(frozen=True)
class JudgeSettings:
    """Everything the judge client needs except the secret key."""

    model: str = DEFAULT_MODEL
    backend: str = "openai"
    base_url: str | None = None
    concurrency: int = 64
    rpm: float | None = None
    tpm: float | None = None
    timeout_s: float = 180.0
    max_retries: int = 6
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    temperature: float = 0.0
    max_tokens: int = 2048
    max_candidate_chars: int = 48000
    template: str | None = None
    criteria_template: str | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise JudgeConfigError(f"judge backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.concurrency < 1:
            raise JudgeConfigError(f"API_PARALLEL must be at least 1, got {self.concurrency}")
        if self.max_retries < 0:
            raise JudgeConfigError(f"JUDGE_MAX_RETRIES must be >= 0, got {self.max_retries}")
        if self.timeout_s <= 0:
            raise JudgeConfigError(f"JUDGE_TIMEOUT must be > 0 seconds, got {self.timeout_s}")
        if self.max_candidate_chars < 200:
            raise JudgeConfigError(f"JUDGE_MAX_CHARS must be at least 200, got {self.max_candidate_chars}")

    @property
    def key_env(self) -> str:
        return KEY_ENV[self.backend]

    def api_key(self, env: Mapping[str, str] | None = None) -> str:
        """Return the key from the environment, or raise naming the variable to set."""
        env = os.environ if env is None else env
        key = (env.get(self.key_env) or "").strip()
        if key:
            return key
        if self.backend == "openai" and is_local_url(self.base_url):
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
        values: dict[str, Any] = {
            "model": model,
            "backend": backend,
            "base_url": env.get("JUDGE_BASE_URL") or None,
            "concurrency": _num(env, "API_PARALLEL", int, 64),
            "rpm": _num(env, "JUDGE_RPM", float, None),
            "tpm": _num(env, "JUDGE_TPM", float, None),
            "timeout_s": _num(env, "JUDGE_TIMEOUT", float, 180.0),
            "max_retries": _num(env, "JUDGE_MAX_RETRIES", int, 6),
            "temperature": _num(env, "JUDGE_TEMPERATURE", float, 0.0),
            "max_tokens": _num(env, "JUDGE_MAX_TOKENS", int, 2048),
            "max_candidate_chars": _num(env, "JUDGE_MAX_CHARS", int, 48000),
            "template": env.get("JUDGE_TEMPLATE") or None,
            "criteria_template": env.get("JUDGE_CRITERIA_TEMPLATE") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | None, env: Mapping[str, str] | None = None) -> JudgeSettings:
        """Settings from a config mapping (verl's ``reward.reward_kwargs.judge``) over the environment."""
        cfg = dict(cfg or {})
        unknown = set(cfg) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise JudgeConfigError(
                f"unknown judge setting(s) {sorted(unknown)} in reward.reward_kwargs.judge; "
                f"known: {sorted(f.name for f in dataclasses.fields(cls))}"
            )
        return cls.from_env(env, **cfg)
