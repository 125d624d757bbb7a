"""A pool of OpenAI-compatible judge endpoints behind one backend: choice, caps, ejection, fail-over.

``JUDGE_BASE_URL=http://h1:8000/v1#32,http://h2:8000/v1#16`` lists endpoints, each with an optional
capacity after ``#`` (default: ``API_PARALLEL`` split evenly). Each request goes to the endpoint with
the fewest requests in flight relative to its capacity, waiting for a free slot when all are full.
An endpoint failing ``pool_eject_after`` times in a row (``JUDGE_POOL_EJECT_AFTER``) is ejected for
``pool_cooldown_s`` seconds (``JUDGE_POOL_COOLDOWN``), both judge settings carried in verl's config;
then one request probes it and decides re-admission (a failed probe doubles the cool-down).
A transient fault (connection refused or dropped, timeout, 5xx, malformed reply) is retried at once
on another endpoint inside the same call, so a dying server costs latency, not client attempts; a
429 makes that endpoint "full" for its Retry-After. Configuration errors (401, 404) propagate.
The client's global concurrency, rate limits and retries with backoff still apply on top.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from typing import Any

from .backends import OpenAIBackend
from .errors import JudgeConfigError
from .pool_spec import EndpointSpec, parse_pool
from .settings import JudgeSettings
from .wire import Completion, TransientError

log = logging.getLogger(__name__)

HEALTHY, PROBING, EJECTED = "healthy", "probing", "ejected"
MAX_HOPS = 3  # endpoints tried per call; bounds the damage a request that breaks every server can do
MAX_THROTTLE_S = 60.0
_WARNED: set[str] = set()


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    k = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


class Endpoint:
    """One server of the pool: its backend, load, health state and counters."""

    def __init__(self, spec: EndpointSpec, settings: JudgeSettings, cooldown_s: float) -> None:
        self.spec = spec
        self.name = spec.name
        self.capacity = spec.capacity
        self.backend = OpenAIBackend(settings.replace(base_url=spec.url))
        self.state = HEALTHY
        self.in_flight = 0
        self.requests = 0
        self.failures = 0
        self.throttled = 0
        self.ejections = 0
        self.consecutive = 0
        self.cooldown_s = cooldown_s
        self.out_until = 0.0  # ejected: probe allowed from then on
        self.busy_until = 0.0  # after a 429: treated as full until then
        self.latencies: deque[float] = deque(maxlen=2048)


class PoolBackend:
    """A ``Backend`` spreading requests over several OpenAI-compatible endpoints (see module doc)."""

    def __init__(
        self,
        settings: JudgeSettings,
        *,
        eject_after: int | None = None,
        cooldown_s: float | None = None,
        max_cooldown_s: float | None = None,
    ) -> None:
        if settings.backend != "openai":
            raise JudgeConfigError("a judge pool (comma-separated JUDGE_BASE_URL) needs JUDGE_BACKEND=openai")
        self.settings = settings
        self.eject_after = eject_after or settings.pool_eject_after
        self.cooldown_s = cooldown_s or settings.pool_cooldown_s
        self.max_cooldown_s = max(self.cooldown_s, max_cooldown_s or self.cooldown_s * 10)
        specs = parse_pool(settings.base_url or "", settings.concurrency)
        self.endpoints = [Endpoint(s, settings, self.cooldown_s) for s in specs]
        self.max_hops = min(MAX_HOPS, len(self.endpoints))
        self.failovers = 0
        self._wake = asyncio.Event()
        total = sum(e.capacity for e in self.endpoints)
        key = f"{settings.base_url}|{settings.concurrency}"
        if settings.concurrency < total and key not in _WARNED:
            _WARNED.add(key)
            log.warning(
                "judge pool: API_PARALLEL=%d is below the pool's total capacity %d (%s); "
                "raise API_PARALLEL to use every endpoint fully",
                settings.concurrency, total, ", ".join(f"{e.name}#{e.capacity}" for e in self.endpoints),
            )

    # ------------------------------------------------------------------ choice
    def _pick(self, tried: set[str], now: float) -> tuple[Endpoint | None, bool, float | None]:
        """(endpoint, worth waiting for a slot, seconds until a timed state change)."""
        best: Endpoint | None = None
        best_key: tuple[float, float] | None = None
        waitable = False
        next_change = math.inf
        for ep in self.endpoints:
            if ep.name in tried or ep.state == PROBING:
                continue
            if ep.state == EJECTED and now < ep.out_until:
                next_change = min(next_change, ep.out_until - now)
                continue
            if ep.busy_until > now:
                next_change = min(next_change, ep.busy_until - now)
                continue
            if ep.state == EJECTED:  # cool-down over: probe it before anything else
                return ep, False, None
            if ep.in_flight >= ep.capacity:
                waitable = True
                continue
            key = (ep.in_flight / ep.capacity, ep.requests / ep.capacity)
            if best_key is None or key < best_key:
                best, best_key = ep, key
        return best, waitable, (None if next_change == math.inf else next_change)

    async def _acquire(self, tried: set[str]) -> tuple[Endpoint | None, float | None]:
        """Take a slot on the best untried endpoint, waiting while all eligible ones are full.

        Returns (None, seconds until one may be back) when no untried endpoint can take the request.
        """
        while True:
            ep, waitable, next_change = self._pick(tried, time.monotonic())
            if ep is not None:
                if ep.state == EJECTED:
                    ep.state = PROBING
                ep.in_flight += 1
                ep.requests += 1
                return ep, None
            if not waitable:
                return None, next_change
            wake = self._wake
            try:
                await asyncio.wait_for(wake.wait(), timeout=5.0 if next_change is None else min(next_change, 5.0))
            except asyncio.TimeoutError:
                pass

    def _release(self, ep: Endpoint) -> None:
        ep.in_flight -= 1
        self._wake.set()
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ health
    def _succeeded(self, ep: Endpoint, latency_s: float) -> None:
        ep.latencies.append(latency_s)
        ep.consecutive = 0
        if ep.state == PROBING:
            ep.state = HEALTHY
            ep.cooldown_s = self.cooldown_s
            log.info("judge pool: endpoint %s re-admitted (probe succeeded in %.2fs)", ep.name, latency_s)

    def _failed(self, ep: Endpoint, err: TransientError) -> None:
        now = time.monotonic()
        if err.status == 429:
            ep.throttled += 1
            ep.busy_until = now + min(err.retry_after if err.retry_after is not None else 1.0, MAX_THROTTLE_S)
            if ep.state == PROBING:  # it answered: alive, merely busy
                ep.state = HEALTHY
            return
        ep.failures += 1
        ep.consecutive += 1
        if ep.state == PROBING:
            ep.cooldown_s = min(ep.cooldown_s * 2, self.max_cooldown_s)
            ep.state, ep.out_until = EJECTED, now + ep.cooldown_s
            log.warning("judge pool: probe of %s failed (%s); next probe in %.3gs", ep.name, err.reason, ep.cooldown_s)
        elif ep.state == HEALTHY and ep.consecutive >= self.eject_after:
            ep.state, ep.out_until = EJECTED, now + ep.cooldown_s
            ep.ejections += 1
            log.warning(
                "judge pool: endpoint %s ejected after %d consecutive failures (last: %s); probing again in %.3gs",
                ep.name, ep.consecutive, err.reason, ep.cooldown_s,
            )

    # ------------------------------------------------------------------ backend API
    async def complete(
        self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float, extra: dict[str, Any]
    ) -> Completion:
        tried: set[str] = set()
        last: TransientError | None = None
        while len(tried) < self.max_hops:
            ep, back_in = await self._acquire(tried)
            if ep is None:
                if last is not None:
                    break
                states = ", ".join(f"{e.name} {e.state}" for e in self.endpoints)
                raise TransientError(f"no judge endpoint available ({states})", retry_after=back_in)
            tried.add(ep.name)
            if last is not None:
                self.failovers += 1
            start = time.monotonic()
            finished = False
            try:
                comp = await ep.backend.complete(messages, max_tokens=max_tokens, temperature=temperature, extra=extra)
                finished = True
            except TransientError as e:
                finished = True
                self._failed(ep, e)
                last = TransientError(f"{ep.name}: {e.reason}", retry_after=e.retry_after, status=e.status)
                continue
            finally:
                if not finished and ep.state == PROBING:  # canceled or fatal: let another request probe
                    ep.state, ep.out_until = EJECTED, 0.0
                self._release(ep)
            self._succeeded(ep, time.monotonic() - start)
            return comp
        assert last is not None
        raise last

    async def close(self) -> None:
        if any(e.requests for e in self.endpoints):
            log.info("%s", self.summary())
        for ep in self.endpoints:
            await ep.backend.close()

    # ------------------------------------------------------------------ reporting
    def metrics(self) -> dict[str, float]:
        """Per-endpoint counters for logging/wandb: ``judge_pool/<host:port>/<metric>``.

        Latency percentiles (seconds, successful requests, last 2,048) are left out until there is one.
        """
        out: dict[str, float] = {
            "judge_pool/healthy_endpoints": float(sum(e.state == HEALTHY for e in self.endpoints)),
            "judge_pool/failovers": float(self.failovers),
        }
        for ep in self.endpoints:
            p = f"judge_pool/{ep.name}/"
            out[p + "requests"] = float(ep.requests)
            out[p + "failures"] = float(ep.failures)
            out[p + "throttled"] = float(ep.throttled)
            out[p + "ejections"] = float(ep.ejections)
            out[p + "in_flight"] = float(ep.in_flight)
            out[p + "capacity"] = float(ep.capacity)
            out[p + "healthy"] = 1.0 if ep.state == HEALTHY else 0.0
            if ep.latencies:
                lat = sorted(ep.latencies)
                out[p + "latency_p50"] = _percentile(lat, 50)
                out[p + "latency_p95"] = _percentile(lat, 95)
        return out

    def states(self) -> dict[str, str]:
        """``{host:port: "healthy" | "probing" | "ejected"}``."""
        return {e.name: e.state for e in self.endpoints}

    def summary(self) -> str:
        """One log line describing every endpoint."""
        parts = []
        for ep in self.endpoints:
            lat = sorted(ep.latencies)
            p50 = f"{_percentile(lat, 50):.2f}s" if lat else "-"
            p95 = f"{_percentile(lat, 95):.2f}s" if lat else "-"
            parts.append(
                f"{ep.name} {ep.state} cap={ep.capacity} req={ep.requests} fail={ep.failures} "
                f"429={ep.throttled} p50={p50} p95={p95}"
            )
        return "judge pool: " + "; ".join(parts)
