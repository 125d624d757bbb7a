"""Judge backends: one chat completion per call, faults mapped to retryable or fatal.

A backend never retries; the client does. ``TransientError`` means "try again" (timeouts, dropped
connections, 429, 5xx, malformed replies); ``JudgeConfigError`` means "a setting is wrong".
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlparse

from ..redact import register_secret, register_url
from .errors import JudgeConfigError
from .settings import JudgeSettings
from .wire import (
    FATAL_STATUSES,
    Completion,
    TransientError,
    cached_tokens_from_usage,
    config_error_for,
    field_of,
    parse_retry_after,
)


class OpenAIBackend:
    """Any OpenAI-compatible chat-completions endpoint, through the ``openai`` SDK."""

    def __init__(self, settings: JudgeSettings, base_url: str | None = None) -> None:
        import openai  # the SDK loads only when an OpenAI-compatible judge is used

        self._openai = openai
        self.settings = settings
        # The SDK's aiohttp transport (documented by openai for high concurrency) costs far less CPU
        # per request than the default one; older SDKs without it fall back to the default.
        aio = getattr(openai, "DefaultAioHttpClient", None)
        url = base_url or settings.base_url
        if url and urlparse(url).username:  # aiohttp refuses URL credentials next to the key header
            aio = None
        key = settings.api_key()
        register_secret(key)  # whatever variable it came from, it is scrubbed from every output
        register_url(url)
        self.client = openai.AsyncOpenAI(
            api_key=key,
            base_url=url,
            timeout=settings.timeout_s,
            max_retries=0,
            **({"http_client": aio(timeout=settings.timeout_s)} if aio is not None else {}),
        )

    async def complete(
        self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float, extra: dict[str, Any]
    ) -> Completion:
        oa = self._openai
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            **(extra or {}),
        }
        started = time.monotonic()
        timeout_s = self.settings.timeout_s
        try:
            # The SDK's generic POST (documented for endpoints without typed helpers) keeps its
            # auth, timeouts and error mapping but skips typed-parameter transforms and response
            # model construction, which cost more CPU than the rest of a judge call. The SDK's own
            # timeout restarts with every byte read; this deadline bounds the whole call, so a
            # server trickling keep-alive bytes cannot hold it.
            raw = await asyncio.wait_for(self.client.post("/chat/completions", body=body, cast_to=str), timeout_s)
        except asyncio.TimeoutError:
            raise TransientError(f"timeout after {timeout_s:g}s (JUDGE_TIMEOUT)") from None
        except oa.APIConnectionError as e:  # APITimeoutError is a subclass
            elapsed = time.monotonic() - started
            # the aiohttp transport reports refused/reset connections as timeouts: tell them apart by time
            if isinstance(e, oa.APITimeoutError) and elapsed >= 0.9 * timeout_s:
                raise TransientError(f"timeout after {timeout_s:g}s (JUDGE_TIMEOUT)") from None
            raise TransientError(f"connection error after {elapsed:.2f}s: {type(e.__cause__ or e).__name__}") from None
        except oa.APIStatusError as e:
            status = e.status_code
            if status in FATAL_STATUSES:
                raise config_error_for(status, self.settings, str(getattr(e, "message", ""))) from None
            raise TransientError(
                f"HTTP {status}", retry_after=parse_retry_after(e.response.headers), status=status
            ) from None
        try:
            resp = json.loads(raw)
            choice = resp["choices"][0]
            content = choice["message"].get("content")
            finish = choice.get("finish_reason")
        except (json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            raise TransientError("malformed response: not a chat completion") from None
        if not isinstance(content, str):
            raise TransientError("malformed response: no message content")
        usage = resp.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        return Completion(
            text=content,
            prompt_tokens=prompt_tokens,
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_prompt_tokens=cached_tokens_from_usage(usage, prompt_tokens),
            finish_reason=finish if isinstance(finish, str) else None,
        )

    async def close(self) -> None:
        await self.client.close()


class DashScopeBackend:
    """DashScope (Qwen models) through the ``dashscope`` SDK's async generation API."""

    def __init__(self, settings: JudgeSettings) -> None:
        from dashscope import AioGeneration  # imported here, not inside the first call's deadline

        self._generation = AioGeneration
        self.settings = settings
        self.key = settings.api_key()
        register_secret(self.key)
        register_url(settings.base_url)

    async def complete(
        self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float, extra: dict[str, Any]
    ) -> Completion:
        kwargs: dict[str, Any] = dict(
            model=self.settings.model,
            messages=messages,
            api_key=self.key,
            result_format="message",
            max_tokens=max_tokens,
            temperature=temperature,
            request_timeout=int(max(1, round(self.settings.timeout_s))),
            **(extra or {}),
        )
        if self.settings.base_url:
            kwargs["base_address"] = self.settings.base_url
        try:
            resp = await asyncio.wait_for(self._generation.call(**kwargs), timeout=self.settings.timeout_s)
        except asyncio.TimeoutError:
            raise TransientError(f"timeout after {self.settings.timeout_s:g}s (JUDGE_TIMEOUT)") from None
        except JudgeConfigError:
            raise
        except Exception as e:  # the SDK surfaces network faults as assorted exception types
            raise TransientError(f"connection error: {type(e).__name__}") from None
        status = int(getattr(resp, "status_code", 0) or 0)
        if status != 200:
            detail = f"{getattr(resp, 'code', '')} {getattr(resp, 'message', '')}".strip()
            if status in FATAL_STATUSES:
                raise config_error_for(status, self.settings, detail)
            return_after = parse_retry_after(getattr(resp, "headers", None))
            raise TransientError(f"HTTP {status} {detail}".strip(), retry_after=return_after, status=status)
        try:
            choice = resp.output.choices[0]
            content = choice.message.content
        except (AttributeError, IndexError, KeyError, TypeError):
            choice, content = None, None
        if not isinstance(content, str):
            raise TransientError("malformed response: no message content")
        usage = getattr(resp, "usage", None)
        prompt_tokens = int(getattr(usage, "input_tokens", 0) or 0)
        finish = field_of(choice, "finish_reason")
        return Completion(
            text=content,
            prompt_tokens=prompt_tokens,
            completion_tokens=int(getattr(usage, "output_tokens", 0) or 0),
            cached_prompt_tokens=cached_tokens_from_usage(usage, prompt_tokens),
            finish_reason=finish if isinstance(finish, str) else None,
        )

    async def close(self) -> None:
        import dashscope  # optional SDK: only with the DashScope backend

        closer = getattr(dashscope, "close_shared_aio_session", None)  # the SDK pools one session per loop
        if closer is not None:
            await closer()
