"""Running many model calls at once: all-or-cancel gathering and the tqdm progress bar."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


async def gather_or_cancel(coros: Iterable[Awaitable[T]]) -> list[T]:
    """Like ``asyncio.gather``, but the first exception cancels the rest before it propagates.

    Every coroutine writes its own result to a log as it finishes, so what was done before a
    fatal error (a rejected API key, Ctrl-C) is kept and a rerun resumes from there.
    """
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def progress(total: int, desc: str, enabled: bool = True) -> tqdm:
    """A progress bar on stderr with rate and ETA (hidden with ``enabled=False``)."""
    return tqdm(total=total, desc=desc, unit="call", file=sys.stderr, disable=not enabled or total == 0,
                dynamic_ncols=True, smoothing=0.1)


def mean(values: Iterable[float]) -> float | None:
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def rounded(x: Any, nd: int = 2) -> Any:
    return round(x, nd) if isinstance(x, float) else x
