"""Judge pool throughput: 2,048 comparisons on 4 endpoints x capacity 16 against 1 endpoint x 16.

Each loopback judge runs in its own process; comparison i takes the same lognormal latency (sigma
0.5, mean 200 ms) whichever server judges it. Runs:
1. one endpoint, API_PARALLEL=16 (the plain single-URL client);
2. a pool of four endpoints ``url#16``, API_PARALLEL=64;
3. the same pool with one endpoint's process SIGKILLed once half the comparisons are done.
Prints one JSON line: the throughput ratio of run 2 over run 1 (target >= 3.6), the failed
judgments of run 3 (target 0), and the details. ``floor_ratio`` is the best ratio any scheduler
could reach with these latencies (the last requests' tail leaves slots idle), from a zero-overhead
first-come-first-served schedule on 16 and 64 slots.

On a small machine the rig itself (the client plus four server processes) can become the
bottleneck; ``client_cpu_share`` near 1.0 shows that, and a larger ``--latency-mean`` (real judges
answer in seconds) then measures the pool rather than the CPU.

    python benchmarks/bench_judge_pool.py [--latency-mean 0.2] [--comparisons 2048]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from _server_proc import _serve, list_schedule_floor, lognormal_delays  # noqa: E402

from writing_rl.judge import JudgeClient, JudgeSettings, PairwiseJudge  # noqa: E402

CAP, ENDPOINTS = 16, 4
QUESTION = "Write a 300-word op-ed about public libraries."
REFERENCE = "Libraries matter to every town. " * 70
KEY_REGEX = r"Response (\d+):"  # the comparison number, so each item has one latency


class Server:
    """A loopback judge in a child process that can be killed like a crashed server."""

    def __init__(self, delays: list[float]) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        kwargs = dict(conn=child, delays=delays, text="Reasoned.\nVERDICT: B", key_regex=KEY_REGEX)
        self.proc = ctx.Process(target=_serve, kwargs=kwargs, daemon=True)
        self.proc.start()
        deadline = time.monotonic() + 60
        while not self.conn.poll(0.1):
            if not self.proc.is_alive() or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"the judge server process did not start (exit code {self.proc.exitcode})")
        self.url = f"http://127.0.0.1:{self.conn.recv()}/v1"

    def stats(self) -> dict[str, Any]:
        self.conn.send("stats")
        return self.conn.recv()

    def kill(self) -> None:
        self.proc.kill()

    def close(self) -> None:
        if self.proc.is_alive():
            self.conn.send("stop")
            self.conn.recv()
        self.proc.join(5)


async def run(settings: JudgeSettings, n: int, kill: Server | None = None) -> dict[str, Any]:
    client = JudgeClient(settings)
    judge = PairwiseJudge(settings, client=client)
    done = 0

    async def one(i: int):
        nonlocal done
        j = await judge.compare(QUESTION, REFERENCE, f"Response {i}: " + "Public libraries are civic glue. " * 60)
        done += 1
        if kill is not None and done == n // 2:
            kill.kill()
        return j

    t0, cpu0 = time.monotonic(), time.process_time()
    judgments = await asyncio.gather(*(one(i) for i in range(n)))
    makespan, cpu = time.monotonic() - t0, time.process_time() - cpu0
    pool = getattr(client.backend, "metrics", None)
    out = {
        "makespan_s": round(makespan, 3),
        "throughput_per_s": round(n / makespan, 1),
        "client_cpu_share": round(cpu / makespan, 2),
        "failed": sum(j.failed for j in judgments),
        "client_retries": sum(j.attempts - 1 for j in judgments),
    }
    if pool is not None:
        m = pool()
        out["failovers"] = int(m["judge_pool/failovers"])
        out["requests_per_endpoint"] = [int(v) for k, v in m.items() if k.endswith("/requests")]
    await client.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-mean", type=float, default=0.2, help="mean server latency in seconds (lognormal)")
    ap.add_argument("--comparisons", type=int, default=2048)
    args = ap.parse_args()
    n, mean = args.comparisons, args.latency_mean
    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
    base = dict(model="bench", timeout_s=30.0, backoff_base_s=0.2, backoff_max_s=2.0)
    delays = lognormal_delays(n, mean, seed=1)

    def pool_settings(servers: list[Server]) -> JudgeSettings:
        return JudgeSettings(base_url=",".join(f"{s.url}#{CAP}" for s in servers), concurrency=CAP * ENDPOINTS, **base)

    servers = [Server(delays) for _ in range(ENDPOINTS)]
    try:
        single = asyncio.run(run(JudgeSettings(base_url=servers[0].url, concurrency=CAP, **base), n))
        single["server_max_in_flight"] = servers[0].stats()["max_in_flight"]
        pooled = asyncio.run(run(pool_settings(servers), n))
        pooled["server_max_in_flight"] = max(s.stats()["max_in_flight"] for s in servers)
    finally:
        for s in servers:
            s.close()

    servers = [Server(delays) for _ in range(ENDPOINTS)]
    try:
        killed = asyncio.run(run(pool_settings(servers), n, kill=servers[0]))
    finally:
        for s in servers:
            s.close()

    ratio = single["makespan_s"] / pooled["makespan_s"]
    floor_single, floor_pool = list_schedule_floor(delays, CAP), list_schedule_floor(delays, CAP * ENDPOINTS)
    print(json.dumps({
        "bench": "judge_pool", "comparisons": n, "endpoints": ENDPOINTS, "capacity_each": CAP,
        "latency_mean_s": mean, "cpu_cores": os.cpu_count(),
        "throughput_ratio": round(ratio, 2), "target_ratio": 3.6, "floor_ratio": round(floor_single / floor_pool, 2),
        "killed_run_failed": killed["failed"], "target_failed": 0,
        "meets_target": ratio >= 3.6 and killed["failed"] == 0,
        "floor_makespan_s": {"single": round(floor_single, 3), "pool": round(floor_pool, 3)},
        "single": single, "pool": pooled, "pool_one_killed_at_half": killed,
    }))

if __name__ == "__main__":
    main()
