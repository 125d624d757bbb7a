"""Generate answers to a benchmark from an OpenAI-compatible endpoint into a resumable responses file.

The responses file is itself the cache: one JSON line per finished call, appended as it finishes
(``id``, ``prompt``, ``response``, ``model``, ``error``, attempts, latency and token counts).
A rerun skips ids that already have a response and retries ids whose earlier call failed; a
failure is written as ``"response": null`` with its ``error``, never as an empty answer.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..judge.client import JudgeClient
from ..judge.errors import JudgeConfigError
from ..judge.settings import JudgeSettings
from .data import Item, norm_id
from .files import EvalInputError, JsonlLog
from .runner import gather_or_cancel, progress


@dataclass
class GenerateSummary:
    total: int
    already_done: int = 0
    generated: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class EndpointSettings(JudgeSettings):
    """Settings of an endpoint under evaluation, whose key may live in its own variable.

    Without ``api_key_env`` the judge's rule applies (``OPENAI_API_KEY`` / ``DASHSCOPE_API_KEY``;
    a loopback URL needs none). With it, only that variable is read, so the judge's key is never
    sent to a model server that is not the judge.
    """

    api_key_env: str | None = None

    @property
    def key_env(self) -> str:
        return self.api_key_env or super().key_env

    def api_key(self, env: Mapping[str, str] | None = None) -> str:
        if not self.api_key_env:
            return super().api_key(env)
        key = ((os.environ if env is None else env).get(self.api_key_env) or "").strip()
        if not key:
            raise JudgeConfigError(f"{self.api_key_env} (named by --api-key-env) is not set: export the endpoint's "
                                   "key in it, or EMPTY for an endpoint without authentication")
        return key


def endpoint_settings(
    model: str,
    base_url: str | None,
    *,
    backend: str = "openai",
    temperature: float = 0.7,
    max_tokens: int = 16384,
    concurrency: int = 32,
    timeout_s: float = 1800.0,
    max_retries: int = 4,
    api_key_env: str | None = None,
) -> EndpointSettings:
    """Client settings for the model under evaluation (the judge client's machinery, its own values)."""
    return EndpointSettings(model=model, backend=backend, base_url=base_url, temperature=temperature,
                            max_tokens=max_tokens, concurrency=concurrency, timeout_s=timeout_s,
                            max_retries=max_retries, api_key_env=api_key_env)


def _messages(item: Item, system_prompt: str | None) -> list[dict[str, str]]:
    if system_prompt is None:
        return item.messages
    return [{"role": "system", "content": system_prompt}, *(m for m in item.messages if m["role"] != "system")]


async def generate(
    items: list[Item],
    settings: JudgeSettings,
    out_path: str | Path,
    *,
    system_prompt: str | None = None,
    show_progress: bool = True,
) -> GenerateSummary:
    """Answer every item not answered yet in ``out_path``; returns counts and the failures."""
    start = time.monotonic()
    client = JudgeClient(settings)  # a missing key fails here, before anything is written
    log = JsonlLog(out_path, "responses file")
    others = {str(r.get("model")) for r in log.records if r.get("model") and r.get("model") != settings.model}
    if others:
        log.close()
        await client.close()
        raise EvalInputError(f"responses file {out_path} holds answers from model {sorted(others)[0]!r}, not "
                             f"{settings.model!r}; write to another --out file")
    done = {norm_id(r.get("id", r.get("index"))) for r in log.records if isinstance(r.get("response"), str)}
    todo = [it for it in items if it.id not in done]
    summary = GenerateSummary(total=len(items), already_done=len(items) - len(todo))
    bar = progress(len(todo), f"generate {settings.model}", show_progress)

    async def one(it: Item) -> None:
        res = await client.chat(_messages(it, system_prompt))
        log.append({
            "id": it.id, "prompt": it.question, "response": res.text if res.ok else None, "model": settings.model,
            "error": res.error, "attempts": res.attempts, "latency_s": round(res.latency_s, 3),
            "prompt_tokens": res.prompt_tokens, "completion_tokens": res.completion_tokens,
        })
        summary.prompt_tokens += res.prompt_tokens
        summary.completion_tokens += res.completion_tokens
        if res.ok:
            summary.generated += 1
        else:
            summary.failed += 1
            summary.failures.append({"id": it.id, "error": str(res.error)})
        bar.update()

    try:
        await gather_or_cancel(one(it) for it in todo)
    except JudgeConfigError as e:
        raise JudgeConfigError(f"model endpoint {settings.base_url or '(default)'} / {settings.model}: {e}") from None
    finally:
        bar.close()
        log.close()
        await client.close()
        summary.wall_s = time.monotonic() - start
    return summary


def run_generate(items: list[Item], settings: JudgeSettings, out_path: str | Path, **kw: Any) -> GenerateSummary:
    return asyncio.run(generate(items, settings, out_path, **kw))
