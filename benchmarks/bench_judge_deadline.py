"""How long a judge call with ``JUDGE_TIMEOUT=2`` takes against a server trickling keep-alive bytes (target <= 3 s).

The loopback server sends a space every 0.1 s for 20 s before the reply (each byte restarts an HTTP read
timeout). One attempt (``JUDGE_MAX_RETRIES=0``) per call, clients built before the clock starts, both
backends. Prints one JSON line.

    python benchmarks/bench_judge_deadline.py [--timeout 2] [--calls 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from writing_rl.judge import JudgeClient, JudgeSettings, PairwiseJudge  # noqa: E402
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply  # noqa: E402


async def calls(settings: JudgeSettings, n: int) -> list[tuple[str, float]]:
    client = JudgeClient(settings)
    judge = PairwiseJudge(settings, client=client)
    out = []
    try:
        for _ in range(n):
            t0 = time.monotonic()
            j = await judge.compare("Write a poem.", "A reference poem.", "A response poem.")
            out.append((j.outcome, time.monotonic() - t0))
    finally:
        await client.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--calls", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
    os.environ.setdefault("DASHSCOPE_API_KEY", "sk-bench-not-a-key-000000")
    result: dict[str, object] = {"bench": "judge_deadline", "judge_timeout_s": args.timeout, "trickle_s": 20}
    with FakeJudgeServer(lambda req: Reply(text="VERDICT: B", trickle_s=20)) as srv:
        for backend, url in (("openai", srv.base_url), ("dashscope", srv.dashscope_url)):
            settings = JudgeSettings(model="fake-judge", backend=backend, base_url=url, timeout_s=args.timeout,
                                     max_retries=0)
            got = asyncio.run(calls(settings, args.calls))
            result[f"{backend}_outcomes"] = sorted({o for o, _ in got})
            result[f"{backend}_max_s"] = round(max(s for _, s in got), 3)
    result["meets_target"] = all(result[f"{b}_max_s"] <= args.timeout + 1.0 and result[f"{b}_outcomes"] == ["failed"]
                                 for b in ("openai", "dashscope"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
