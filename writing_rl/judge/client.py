"""The async judge client: one per process and event loop, with concurrency, rate limits and retries.

``chat()`` always returns a ``ChatResult``; a transient fault that survives every retry comes back
as ``error`` set, never as text. Configuration faults (401, 404, missing key) raise
``JudgeConfigError`` at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .backends import DashScopeBackend, OpenAIBackend
from .pool import PoolBackend
from .ratelimit import TokenBucket
from .settings import JudgeSettings
from .wire import Backend, TransientError

MAX_RETRY_AFTER_S = 300.0


@dataclass
class ChatResult:
    text: str | None
    attempts: int
    latency_s: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    error: str | None = None
    errors: list[str] = field(default_factory=list)
    finish_reason: str | None = None  # the server's; "length" means the reply was cut at max_tokens

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class JudgeClient:
    """Sends chat requests to the configured backend under a concurrency cap and rate limits."""

    def __init__(self, settings: JudgeSettings, backend: Backend | None = None) -> None:
        self.settings = settings
        self.backend = backend if backend is not None else make_backend(settings)
        self._sem = asyncio.Semaphore(settings.concurrency)
        self._rpm = TokenBucket(settings.rpm) if settings.rpm else None
        self._tpm = TokenBucket(settings.tpm, burst=max(settings.tpm / 6, 1.0)) if settings.tpm else None
        self.in_flight = 0
        self.max_in_flight = 0

    def backoff_s(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, capped."""
        d = min(self.settings.backoff_max_s, self.settings.backoff_base_s * (2 ** (attempt - 1)))
        return d / 2 + random.uniform(0, d / 2)

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int | None = None,
                   temperature: float | None = None, extra: dict[str, Any] | None = None) -> ChatResult:
        """One chat completion, retried on transient faults (see the module docstring)."""
        s = self.settings
        max_tokens = max_tokens or s.max_tokens
        temperature = s.temperature if temperature is None else temperature
        extra = {**s.extra_body, **(extra or {})}
        est_tokens = sum(len(m.get("content", "")) for m in messages) / 3 + max_tokens if self._tpm else 0.0
        start = time.monotonic()
        errors: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            if self._rpm:
                await self._rpm.acquire(1)
            if self._tpm:
                await self._tpm.acquire(est_tokens)
            async with self._sem:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    comp = await self.backend.complete(messages, max_tokens=max_tokens, temperature=temperature,
                                                       extra=extra)
                except TransientError as e:
                    errors.append(e.reason)
                    retry_after = e.retry_after
                else:
                    return ChatResult(comp.text, attempt, time.monotonic() - start, comp.prompt_tokens,
                                      comp.completion_tokens, comp.cached_prompt_tokens, errors=errors,
                                      finish_reason=comp.finish_reason)
                finally:
                    self.in_flight -= 1
            if attempt > s.max_retries:
                return ChatResult(None, attempt, time.monotonic() - start, errors=errors,
                                  error=f"gave up after {attempt} attempts; last error: {errors[-1]}")
            delay = self.backoff_s(attempt)
            if retry_after is not None:  # the server's own hint wins, within reason
                delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
            await asyncio.sleep(delay)

    async def close(self) -> None:
        await self.backend.close()


_CLIENTS: dict[str, tuple[asyncio.AbstractEventLoop, JudgeClient]] = {}


def get_client(settings: JudgeSettings) -> JudgeClient:
    """The shared client for these settings in the running event loop (connections are reused)."""
    loop = asyncio.get_running_loop()
    key = f"{settings!r}@{id(loop)}"
    entry = _CLIENTS.get(key)
    if entry is None or entry[0] is not loop:  # a new loop may reuse a dead loop's id
        entry = _CLIENTS[key] = (loop, JudgeClient(settings))
    return entry[1]


def make_backend(settings: JudgeSettings) -> Backend:
    """The backend for these settings (a comma-separated ``base_url`` is an endpoint pool)."""
    if settings.backend == "dashscope":
        return DashScopeBackend(settings)
    if settings.base_url and ("," in settings.base_url or "#" in settings.base_url):
        return PoolBackend(settings)
    return OpenAIBackend(settings)
