"""Generate stage: every model (the policy and each competitor) writes a response to every instruction.

Responses go to the ``responses.jsonl`` cache keyed by (instruction id, model name). A cached
response is reused while it is ``ok`` and was written for the same instruction text by the same
endpoint ``model``; anything else (failed, or stale) is redone on the next run. Reasoning blocks
(``<think>``) are removed before a response is stored; a response that is empty without them
counts as failed.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from ..calls.endpoint import open_clients
from ..calls.log import ResultLog
from ..calls.runner import Budget, Caller, RunStats, run_jobs
from ..judge.text import strip_reasoning
from .inputs import Instruction
from .models import ModelsConfig, ModelSpec


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def response_ok(rec: dict[str, Any] | None, instr: Instruction, spec: ModelSpec) -> bool:
    """Whether a cached response can be used: it succeeded, for this instruction text, from this model."""
    return bool(rec and rec.get("ok") and rec.get("text") and rec.get("prompt_sha") == text_sha(instr.prompt)
                and rec.get("endpoint_model") == spec.settings.model)


def messages_for(spec: ModelSpec, instr: Instruction) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": spec.system_prompt}] if spec.system_prompt else []
    return [*msgs, {"role": "user", "content": instr.prompt}]


async def generate_stage(
    instructions: list[Instruction],
    models: ModelsConfig,
    cache: ResultLog,
    stats: RunStats,
    budget: Budget,
    *,
    concurrency: int,
    progress: bool = True,
) -> None:
    """Fill the responses cache for every (instruction, model) pair that lacks a usable response."""
    jobs = []
    for instr in instructions:  # instruction-major, so an interrupted run leaves whole instructions done
        for spec in models.generators:
            stats.items += 1
            if response_ok(cache.get(instr.id, spec.name), instr, spec):
                stats.cached += 1
            else:
                jobs.append((instr, spec))
    caller = Caller(stats, budget)

    async def work(job: tuple[Instruction, ModelSpec]) -> bool | None:
        instr, spec = job
        res = await caller.chat(clients[spec.name], messages_for(spec, instr), price=spec.cost, label=spec.label)
        if res is None:
            return None
        text = strip_reasoning(res.text) if res.ok and res.text else ""
        error = res.error or (None if text else "empty response (nothing left after removing <think> reasoning)")
        cache.append({
            "id": instr.id, "model": spec.name, "endpoint_model": spec.settings.model, "ok": error is None,
            "text": text or None, "error": error, "prompt_sha": text_sha(instr.prompt),
            "attempts": res.attempts, "prompt_tokens": res.prompt_tokens,
            "completion_tokens": res.completion_tokens, "cost": round(spec.cost(res.prompt_tokens,
                                                                                 res.completion_tokens), 8),
            "latency_s": round(res.latency_s, 3), "time": time.time(),
        })
        return error is None

    if not jobs:
        return
    endpoints = {s.name: (s.settings, s.label) for s in models.generators}
    async with open_clients(endpoints) as clients:  # a missing key fails here, before any call
        await run_jobs(jobs, work, concurrency=concurrency, stats=stats, budget=budget, progress_bar=progress)
