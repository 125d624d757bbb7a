"""Run a stage's calls: a pool of workers on one event loop, a call/cost budget, per-stage counters.

The budget (``--max-calls``, ``--max-cost``) is checked before every call. For ``--max-cost`` each
call first reserves an upper estimate of its cost (prompt characters / 2 tokens, plus the full
``max_tokens``), so calls in flight can never take the total over the limit; once a call returns,
its reservation is replaced by its real cost. When the budget is reached no new call starts, calls
in flight finish and are recorded, and the stage reports ``stopped``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from tqdm import tqdm

from ..judge.client import ChatResult, JudgeClient
from ..judge.errors import JudgeConfigError
from .models import ModelSpec

J = TypeVar("J")


@dataclass
class StageStats:
    """What one stage did in one invocation (printed in the summary table, kept in stages.json)."""

    stage: str
    items: int = 0
    cached: int = 0
    done: int = 0
    failed: int = 0
    pending: int = 0
    calls: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    wall_s: float = 0.0
    stopped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cost"] = round(self.cost, 6)
        d["wall_s"] = round(self.wall_s, 3)
        return d


class Budget:
    """Limits on calls and estimated cost for one command invocation (shared by its stages)."""

    def __init__(self, max_calls: int | None = None, max_cost: float | None = None) -> None:
        self.max_calls = max_calls
        self.max_cost = max_cost
        self.calls = 0
        self.cost = 0.0
        self.reserved = 0.0
        self.stopped: str | None = None

    def reserve(self, estimate: float) -> bool:
        if self.stopped:
            return False
        if self.max_calls is not None and self.calls >= self.max_calls:
            self.stopped = f"--max-calls {self.max_calls} reached"
        elif self.max_cost is not None and self.cost + self.reserved + estimate > self.max_cost:
            self.stopped = f"--max-cost {self.max_cost:g} reached (spent {self.cost:.4f} in this run)"
        if self.stopped:
            return False
        self.calls += 1
        self.reserved += estimate
        return True

    def settle(self, estimate: float, actual: float) -> None:
        self.reserved -= estimate
        self.cost += actual


class Caller:
    """Makes chat calls for one stage under the budget, counting them in the stage's stats."""

    def __init__(self, stats: StageStats, budget: Budget) -> None:
        self.stats = stats
        self.budget = budget

    async def chat(
        self, spec: ModelSpec, client: JudgeClient, messages: list[dict[str, str]], **kw: Any
    ) -> ChatResult | None:
        """One call, or ``None`` when the budget does not allow it (nothing was sent)."""
        chars = sum(len(m["content"]) for m in messages)
        estimate = spec.cost(chars // 2 + 1, kw.get("max_tokens") or spec.settings.max_tokens)
        if not self.budget.reserve(estimate):
            return None
        res: ChatResult | None = None
        try:
            res = await client.chat(messages, **kw)
        finally:
            actual = spec.cost(res.prompt_tokens, res.completion_tokens) if res else 0.0
            self.budget.settle(estimate, actual)
        s = self.stats
        s.calls += 1
        s.attempts += res.attempts
        s.prompt_tokens += res.prompt_tokens
        s.completion_tokens += res.completion_tokens
        s.cost += actual
        return res


async def run_jobs(
    jobs: Sequence[J],
    work: Callable[[J], Awaitable[bool | None]],
    *,
    concurrency: int,
    stats: StageStats,
    budget: Budget,
    progress: bool = True,
) -> None:
    """Run ``work(job)`` for every job with at most ``concurrency`` at once.

    ``work`` returns True (recorded ok), False (recorded as failed) or None (not done: the budget
    stopped it). A ``JudgeConfigError`` stops new work, lets calls in flight finish, then is raised.
    """
    queue = list(reversed(jobs))
    fatal: list[BaseException] = []
    bar = tqdm(total=len(jobs), desc=stats.stage, unit="item", disable=not progress, dynamic_ncols=True)
    start = time.monotonic()

    async def worker() -> None:
        while queue and not fatal and not budget.stopped:
            job = queue.pop()
            try:
                result = await work(job)
            except JudgeConfigError as e:
                fatal.append(e)
                stats.pending += 1
                return
            if result is None:
                stats.pending += 1
                continue
            if result:
                stats.done += 1
            else:
                stats.failed += 1
            bar.update(1)
            if stats.failed:
                bar.set_postfix(failed=stats.failed, refresh=False)

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(jobs))))))
    finally:
        bar.close()
        stats.pending += len(queue)
        stats.wall_s += time.monotonic() - start
    if budget.stopped and stats.pending:
        stats.stopped = budget.stopped
    if fatal:
        raise fatal[0]


def describe(spec: ModelSpec) -> str:
    return "the judge" if spec.role == "judge" else f"{spec.role} {spec.name!r}"


def make_client(spec: ModelSpec) -> JudgeClient:
    """A client for one endpoint; a missing key fails here, before any call, naming the entry."""
    try:
        return JudgeClient(spec.settings)
    except JudgeConfigError as e:
        raise JudgeConfigError(f"{describe(spec)} (model {spec.settings.model!r}): {e}") from None


async def chat_or_explain(
    caller: Caller, spec: ModelSpec, client: JudgeClient, messages: list[dict[str, str]]
) -> ChatResult | None:
    """``caller.chat`` with configuration errors prefixed by the models-file entry they concern."""
    try:
        return await caller.chat(spec, client, messages)
    except JudgeConfigError as e:
        raise JudgeConfigError(f"{describe(spec)} (model {spec.settings.model!r}): {e}") from None


@contextlib.asynccontextmanager
async def open_clients(specs: Iterable[ModelSpec]) -> AsyncIterator[dict[str, JudgeClient]]:
    """One client per model entry (keyed by name), all closed on exit."""
    clients: dict[str, JudgeClient] = {}
    try:
        for spec in specs:
            clients[spec.name] = make_client(spec)
        yield clients
    finally:
        for c in clients.values():
            await c.close()
