"""Generate answers to a benchmark from an OpenAI-compatible endpoint into a resumable responses file.

The responses file is itself the cache: one JSON line per finished call, appended as it finishes
(``id``, ``prompt``, ``response``, ``model``, ``error``, attempts, latency and token counts).
A rerun skips ids that already have a response and retries ids whose earlier call failed; a
failure is written as ``"response": null`` with its ``error``, never as an empty answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..calls.endpoint import EndpointSettings, make_client
from ..calls.log import ResultLog
from ..calls.runner import Caller, RunStats, run_jobs
from ..judge.settings import JudgeSettings
from ..redact import public_url
from .data import EvalInputError, Item, norm_id


@dataclass
class Generated:
    """What one ``generate`` did: the runner's counters (items = rows, cached = already answered) and the failures."""

    stats: RunStats
    failures: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        s = self.stats
        return {"total": s.items, "already_done": s.cached, "generated": s.done, "failed": s.failed,
                "prompt_tokens": s.prompt_tokens, "completion_tokens": s.completion_tokens, "wall_s": s.wall_s,
                "failures": self.failures}


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
    """Client settings for the model under evaluation (the judge client's machinery, its own values).

    Values out of range are input errors naming the command-line option.
    """
    for name, value, least in (("max-tokens", max_tokens, 1), ("concurrency", concurrency, 1),
                               ("retries", max_retries, 0)):
        if value < least:
            raise EvalInputError(f"--{name} must be at least {least}")
    if timeout_s <= 0:
        raise EvalInputError("--timeout must be positive (seconds)")
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
) -> Generated:
    """Answer every item not answered yet in ``out_path``; returns counts and the failures."""
    label = f"model endpoint {public_url(settings.base_url) or '(default)'} / {settings.model}"
    client = make_client(settings)  # a missing key fails here, before anything is written
    log = ResultLog(out_path, "responses file")
    others = {str(r.get("model")) for r in log.records if r.get("model") and r.get("model") != settings.model}
    if others:
        await client.close()
        raise EvalInputError(f"responses file {out_path} holds answers from model {sorted(others)[0]!r}, not "
                             f"{settings.model!r}; write to another --out file")
    done = {norm_id(r.get("id", r.get("index"))) for r in log.records if isinstance(r.get("response"), str)}
    todo = [it for it in items if it.id not in done]
    stats = RunStats(f"generate {settings.model}", items=len(items), cached=len(items) - len(todo))
    summary = Generated(stats)
    caller = Caller(stats)

    async def one(it: Item) -> bool:
        res = await caller.chat(client, _messages(it, system_prompt), label=label)
        assert res is not None  # no budget here: every call is sent
        log.append({
            "id": it.id, "prompt": it.question, "response": res.text if res.ok else None, "model": settings.model,
            "error": res.error, "attempts": res.attempts, "latency_s": round(res.latency_s, 3),
            "prompt_tokens": res.prompt_tokens, "completion_tokens": res.completion_tokens,
        })
        if not res.ok:
            summary.failures.append({"id": it.id, "error": str(res.error)})
        return res.ok

    try:
        await run_jobs(todo, one, concurrency=settings.concurrency, stats=stats, progress_bar=show_progress,
                       unit="call")
    finally:
        log.close()
        await client.close()
    return summary
