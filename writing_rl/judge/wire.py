"""What every judge backend returns and raises: completions, retryable faults, fatal HTTP statuses."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from ..redact import public_url, scrub
from .errors import JudgeConfigError, JudgeError
from .settings import JudgeSettings

# finish_reason values meaning the reply was cut short (OpenAI-compatible servers, DashScope)
TRUNCATED_REASONS = ("length", "max_tokens")


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # served from the provider's prefix cache; 0 when not reported
    finish_reason: str | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason in TRUNCATED_REASONS


def field_of(obj: Any, name: str) -> Any:
    """``obj[name]`` or ``obj.name`` (SDK objects are either), else None."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def cached_tokens_from_usage(usage: Any, prompt_tokens: int) -> int:
    """The cached-prompt-token figure of a usage block, clamped to ``[0, prompt_tokens]``.

    OpenAI-compatible servers (OpenAI, vLLM with ``--enable-prompt-tokens-details``, DashScope's
    compatible mode) and DashScope's own API report ``usage.prompt_tokens_details.cached_tokens``;
    some DashScope models say ``input_tokens_details``, and DeepSeek ``prompt_cache_hit_tokens``.
    """
    value = None
    for details in ("prompt_tokens_details", "input_tokens_details"):
        value = field_of(field_of(usage, details), "cached_tokens")
        if value is not None:
            break
    if value is None:
        value = field_of(usage, "prompt_cache_hit_tokens")
    try:
        n = int(value or 0)
    except (TypeError, ValueError):
        return 0
    return max(0, min(n, prompt_tokens)) if prompt_tokens else max(0, n)


class TransientError(JudgeError):
    """A failure worth retrying; ``retry_after`` is the server's own hint in seconds, if any.

    Never reaches a user: the client retries it and, when the retries run out, records a failed judgment.
    """

    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None) -> None:
        reason = scrub(reason)  # a server may echo the request's headers, key included
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


class Backend(Protocol):
    async def complete(
        self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float, extra: dict[str, Any]
    ) -> Completion: ...

    async def close(self) -> None: ...


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    get = headers.get
    ms = get("retry-after-ms") or get("Retry-After-Ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    raw = get("retry-after") or get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
        return max(0.0, (when - datetime.datetime.now(when.tzinfo)).total_seconds())
    except (TypeError, ValueError):
        return None


def config_error_for(status: int, settings: JudgeSettings, detail: str) -> JudgeConfigError:
    """Turn a non-retryable HTTP status into an error naming the setting to fix (never holding a secret)."""
    detail = scrub((detail or "").strip().replace("\n", " "))[:300]
    where = public_url(settings.base_url) or ("DashScope" if settings.backend == "dashscope" else "the OpenAI API")
    if status == 401:
        msg = f"the judge at {where} rejected the API key (HTTP 401): check {settings.key_env}"
    elif status == 403:
        msg = (
            f"the judge at {where} refused access (HTTP 403) to model {settings.model!r}: "
            f"check the permissions of {settings.key_env} or JUDGE_MODEL"
        )
    elif status == 404:
        msg = (
            f"the judge at {where} answered 404 for model {settings.model!r}: check JUDGE_BASE_URL "
            "(an OpenAI-compatible server usually ends in /v1) and JUDGE_MODEL"
        )
    else:
        msg = (
            f"the judge at {where} rejected the request (HTTP {status}): check JUDGE_MODEL, "
            "JUDGE_MAX_TOKENS and JUDGE_MAX_CHARS (prompt too long for the judge's context?)"
        )
    return JudgeConfigError(scrub(f"{msg}. Server said: {detail}" if detail else msg))


FATAL_STATUSES = {400, 401, 403, 404, 422}
