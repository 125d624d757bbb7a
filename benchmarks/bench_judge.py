"""Judge client throughput: 1,024 comparisons at API_PARALLEL=64 against a loopback judge.

Server latency is lognormal with mean 200 ms (sigma 0.25 of the underlying normal); the server
runs in its own process. The 1,024 comparisons are run three times, each with fresh latencies,
and the figures are averaged so that one lucky or unlucky draw does not decide the result.

Prints one JSON line: makespan_s, ideal_s (sum of server-side latencies / 64) and their ratio
(target <= 1.15), the server's peak number of requests in flight (must not exceed 64), and
schedule_floor_s: the makespan of perfect first-come-first-served scheduling of the same
latencies on 64 slots, which no client can beat (the latency tail alone puts it above ideal_s).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _server_proc import list_schedule_floor, lognormal_delays, server_process  # noqa: E402

from writing_rl.judge import JudgeSettings, PairwiseJudge  # noqa: E402

N, PARALLEL, MEAN, SIGMA, WARMUP, ROUNDS = 1024, 64, 0.2, 0.25, 64, 3
QUESTION = "Write a 300-word op-ed about public libraries."
REFERENCE = "Libraries matter. " * 120


async def run(srv, delays: list[float]) -> list[dict]:
    judge = PairwiseJudge(JudgeSettings(model="bench", base_url=srv.base_url, concurrency=PARALLEL, timeout_s=30))
    # Warm-up (excluded): open the connections and let the SDK finish its lazy imports, as a
    # long-lived reward worker has long done by the time a training step starts.
    await asyncio.gather(*(judge.compare(QUESTION, REFERENCE, "warm-up answer") for _ in range(WARMUP)))
    rounds = []
    for r in range(ROUNDS):
        before = srv.stats()
        t0, c0 = time.monotonic(), time.process_time()
        results = await asyncio.gather(
            *(judge.compare(QUESTION, REFERENCE, f"Response {i}: " + "Public libraries are civic glue. " * 60)
              for i in range(N))
        )
        makespan, cpu = time.monotonic() - t0, time.process_time() - c0
        after = srv.stats()
        ideal = (after["total_delay_s"] - before["total_delay_s"]) / PARALLEL
        lat = delays[WARMUP + r * N: WARMUP + (r + 1) * N]
        rounds.append({"makespan_s": makespan, "ideal_s": ideal, "floor_s": list_schedule_floor(lat, PARALLEL),
                       "cpu_s": cpu, "requests": after["count"] - before["count"],
                       "failed": sum(j.outcome == "failed" for j in results)})
    await judge.client.close()
    return rounds


def main() -> None:
    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
    delays = lognormal_delays(WARMUP + ROUNDS * N, MEAN, sigma=SIGMA, seed=1)
    with server_process(delays) as srv:
        rounds = asyncio.run(run(srv, delays))
        peak = srv.stats()["max_in_flight"]

    def mean(key: str) -> float:
        return statistics.mean(r[key] for r in rounds)

    ratio = mean("makespan_s") / mean("ideal_s")
    print(json.dumps({
        "bench": "judge", "comparisons": N, "rounds": ROUNDS, "api_parallel": PARALLEL,
        "latency_mean_s": MEAN, "latency_sigma": SIGMA,
        "makespan_s": round(mean("makespan_s"), 3), "ideal_s": round(mean("ideal_s"), 3), "ratio": round(ratio, 3),
        "ratio_per_round": [round(r["makespan_s"] / r["ideal_s"], 3) for r in rounds],
        "schedule_floor_s": round(mean("floor_s"), 3), "ratio_to_floor": round(mean("makespan_s") / mean("floor_s"), 3),
        "client_cpu_ms_per_comparison": round(1000 * mean("cpu_s") / N, 3),
        "server_max_in_flight": peak, "server_requests": sum(r["requests"] for r in rounds),
        "failed": sum(r["failed"] for r in rounds), "target_ratio": 1.15,
        "meets_target": ratio <= 1.15 and peak <= PARALLEL,
    }))


if __name__ == "__main__":
    main()
