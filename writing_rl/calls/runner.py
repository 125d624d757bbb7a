"""The async call runner: a pool of workers on one event loop, a call/cost budget, progress, cancellation.

Each job's ``work`` writes its own result to a result log as it finishes, so whatever was done
before a stop (the budget, a rejected key, Ctrl-C) is kept and a rerun resumes from there.

The budget (``--max-calls``, ``--max-cost``) is checked before every call. For ``--max-cost`` each
call first reserves an upper estimate of its cost, so calls in flight can never take the total over
the limit; once a call returns, its reservation is replaced by its real cost. When the budget is
reached no new call starts, calls in flight finish and are recorded, and the run reports ``stopped``.
A configuration error (``JudgeConfigError``) stops new work the same way and is then raised; any
other exception (Ctrl-C included) cancels the calls in flight at once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from tqdm import tqdm

from ..judge.client import ChatResult, JudgeClient
from ..judge.errors import JudgeConfigError
from .endpoint import labelled

J = TypeVar("J")
T = TypeVar("T")


def progress(total: int, desc: str, enabled: bool = True, unit: str = "call") -> tqdm:
    """A progress bar on stderr with rate and ETA (hidden with ``enabled=False``)."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not enabled or total == 0,
                dynamic_ncols=True, smoothing=0.1)


async def gather_or_cancel(coros: Iterable[Awaitable[T]]) -> list[T]:
    """Like ``asyncio.gather``, but the first exception cancels the rest before it propagates."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


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


@dataclass
class RunStats:
    """What one run of jobs did (selection prints it per stage and keeps it in stages.json)."""

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
    reasks: int = 0
    cost: float = 0.0
    wall_s: float = 0.0
    stopped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cost"] = round(self.cost, 6)
        d["wall_s"] = round(self.wall_s, 3)
        return d


class Caller:
    """Makes chat calls under the budget, counting them in the run's stats."""

    def __init__(self, stats: RunStats, budget: Budget | None = None) -> None:
        self.stats = stats
        self.budget = budget or Budget()

    async def chat(
        self, client: JudgeClient, messages: list[dict[str, str]], *,
        price: Callable[[int, int], float] | None = None, label: str | None = None, **kw: Any,
    ) -> ChatResult | None:
        """One call, or ``None`` when the budget does not allow it (nothing was sent).

        ``price(prompt_tokens, completion_tokens)`` is the call's cost; before the call it is
        estimated from the prompt (characters / 2 tokens) and the full ``max_tokens``.
        """
        estimate = 0.0
        if price is not None:
            chars = sum(len(m["content"]) for m in messages)
            estimate = price(chars // 2 + 1, kw.get("max_tokens") or client.settings.max_tokens)
        if not self.budget.reserve(estimate):
            return None
        res: ChatResult | None = None
        try:
            with labelled(label):
                res = await client.chat(messages, **kw)
        finally:
            actual = price(res.prompt_tokens, res.completion_tokens) if res and price else 0.0
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
    stats: RunStats,
    budget: Budget | None = None,
    progress_bar: bool = True,
    unit: str = "item",
) -> None:
    """Run ``work(job)`` for every job with at most ``concurrency`` at once.

    ``work`` returns True (recorded ok), False (recorded as failed) or None (not done: the budget
    stopped it). The counters go to ``stats`` (``done``, ``failed``, ``pending``, ``wall_s``, ``stopped``).
    """
    budget = budget or Budget()
    queue = list(reversed(jobs))
    fatal: list[BaseException] = []
    bar = progress(len(jobs), stats.stage, progress_bar, unit)
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
        await gather_or_cancel(worker() for _ in range(max(1, min(concurrency, len(jobs)))))
    finally:
        bar.close()
        stats.pending += len(queue)
        stats.wall_s += time.monotonic() - start
    if budget.stopped and stats.pending:
        stats.stopped = budget.stopped
    if fatal:
        raise fatal[0]
