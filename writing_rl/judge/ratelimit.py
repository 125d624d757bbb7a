"""Async token buckets for requests-per-minute and tokens-per-minute limits (per process)."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """A bucket refilled continuously at ``per_minute / 60`` units per second.

    ``acquire(n)`` waits until ``n`` units are available. A request larger than the whole
    bucket is let through once the bucket is full, so an oversized request cannot block forever.
    """

    def __init__(self, per_minute: float, burst: float | None = None) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.rate = per_minute / 60.0
        self.capacity = burst if burst is not None else max(1.0, per_minute / 60.0 * 5)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock: asyncio.Lock | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, n: float = 1.0) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # FIFO: one waiter drains the bucket at a time
            need = min(n, self.capacity)
            while True:
                self._refill()
                if self.tokens >= need:
                    self.tokens -= n
                    return
                await asyncio.sleep((need - self.tokens) / self.rate)
