"""Run a FakeJudgeServer with lognormal per-request latency in a child process (for benchmarks).

The server lives in its own process so that its CPU work does not compete with the client's
event loop for the GIL, as with a real remote judge.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import random
from contextlib import contextmanager
from typing import Any


def lognormal_delays(n: int, mean_s: float, sigma: float = 0.5, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    mu = math.log(mean_s) - sigma * sigma / 2
    return [rng.lognormvariate(mu, sigma) for _ in range(n)]


def list_schedule_floor(delays: list[float], slots: int) -> float:
    """Makespan of zero-overhead first-come-first-served scheduling of ``delays`` on ``slots``."""
    import heapq

    heap = [0.0] * slots
    for d in delays:
        heapq.heappush(heap, heapq.heappop(heap) + d)
    return max(heap)


def _serve(conn: Any, delays: list[float], text: str, key_regex: str | None) -> None:
    import re
    import time

    from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

    pattern = re.compile(key_regex) if key_regex else None

    def script(req):
        m = pattern.search(req.prompt) if pattern else None
        i = int(m.group(1)) if m else req.index  # a latency per item, whatever the arrival order
        return Reply(text=text, delay_s=delays[i % len(delays)])

    srv = FakeJudgeServer(script).start()
    conn.send(srv.port)
    while True:
        msg = conn.recv()
        if msg == "stats":
            conn.send({"count": srv.count, "max_in_flight": srv.max_in_flight, "total_delay_s": srv.total_delay_s})
        elif msg == "stop":
            srv.stop()
            conn.send("stopped")
            time.sleep(0.05)
            return


class ServerProc:
    def __init__(self, conn: Any, port: int) -> None:
        self.conn, self.port = conn, port
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stats(self) -> dict[str, Any]:
        self.conn.send("stats")
        return self.conn.recv()


@contextmanager
def server_process(delays: list[float], text: str = "Reasoned.\nVERDICT: B", key_regex: str | None = None):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, delays, text, key_regex), daemon=True)
    proc.start()
    port = parent.recv()
    try:
        yield ServerProc(parent, port)
    finally:
        parent.send("stop")
        parent.recv()
        proc.join(5)
