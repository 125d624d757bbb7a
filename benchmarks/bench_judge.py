"""Judge client throughput: 1,024 comparisons at API_PARALLEL=64 against a loopback judge.

Server latency is lognormal with mean 200 ms. Prints one JSON line with makespan_s, ideal_s
(sum of server-side latencies / 64) and their ratio (target <= 1.15), and the server's peak
number of requests in flight (must not exceed 64).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _server_proc import lognormal_delays, server_process  # noqa: E402

from writing_rl.judge import JudgeSettings, PairwiseJudge  # noqa: E402

N, PARALLEL, MEAN = 1024, 64, 0.2


async def run(base_url: str) -> tuple[float, list[str]]:
    judge = PairwiseJudge(JudgeSettings(model="bench", base_url=base_url, concurrency=PARALLEL, timeout_s=30))
    question = "Write a 300-word op-ed about public libraries."
    reference = "Libraries matter. " * 120
    t0 = time.monotonic()
    results = await asyncio.gather(
        *(judge.compare(question, reference, f"Response {i}: " + "Public libraries are civic glue. " * 60)
          for i in range(N))
    )
    makespan = time.monotonic() - t0
    await judge.client.close()
    return makespan, [r.outcome for r in results]


def main() -> None:
    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
    delays = lognormal_delays(N, MEAN, seed=1)
    with server_process(delays) as srv:
        makespan, outcomes = asyncio.run(run(srv.base_url))
        stats = srv.stats()
    ideal = stats["total_delay_s"] / PARALLEL
    print(json.dumps({
        "bench": "judge", "comparisons": N, "api_parallel": PARALLEL,
        "makespan_s": round(makespan, 3), "ideal_s": round(ideal, 3), "ratio": round(makespan / ideal, 3),
        "server_max_in_flight": stats["max_in_flight"], "server_requests": stats["count"],
        "failed": outcomes.count("failed"), "target_ratio": 1.15,
        "meets_target": makespan / ideal <= 1.15 and stats["max_in_flight"] <= PARALLEL,
    }))


if __name__ == "__main__":
    main()
