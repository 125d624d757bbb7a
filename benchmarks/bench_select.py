"""Benchmark `writing-rl select`: 200 instructions x 5 models through generate and score.

The models and the judge are played by a loopback server (in its own process, so it does not share
the client's interpreter lock) answering every request after 300 ms. The pipeline runs at
concurrency 64. The ideal wall time is the total server latency / 64; the target ratio is <= 1.2.
For reference it also times the bare judge client sending the same number of requests to the same
server at the same concurrency (``client_only_ratio``): the part of the gap that is the HTTP client's
own per-request cost rather than the pipeline's. The OpenAI SDK is imported before the clock starts
(a fixed start-up cost of about a second, unrelated to concurrency). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path


def _score(model: str, prompt: str, keys: list[str]) -> int:
    return 3 + (len(prompt) + len(model)) % 7


def _serve(conn, delay_s: float) -> None:  # runs in the server process
    from writing_rl.selection.loopback import Players
    from writing_rl.testing.fake_judge import FakeJudgeServer

    with FakeJudgeServer(Players(_score, delay_s=delay_s)) as srv:
        conn.send(srv.base_url)
        conn.recv()  # wait for "stop"
        conn.send({"count": srv.count, "total_delay_s": srv.total_delay_s, "max_in_flight": srv.max_in_flight,
                   "server_cpu_s": time.process_time()})


async def _client_only(base_url: str, n: int, concurrency: int) -> float:
    """Wall time of ``n`` bare judge-client calls through a pool of ``concurrency`` workers."""
    import asyncio

    from writing_rl.judge import JudgeClient, JudgeSettings

    client = JudgeClient(JudgeSettings(model="model-0", base_url=base_url, concurrency=concurrency))
    todo = list(range(n))
    msgs = [{"role": "user", "content": "Write a short essay on topic 42."}]

    async def worker() -> None:
        while todo:
            todo.pop()
            await client.chat(msgs)

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.monotonic() - t0
    await client.close()
    return wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--instructions", type=int, default=200)
    ap.add_argument("--models", type=int, default=5, help="the policy plus models-1 competitors")
    ap.add_argument("--latency", type=float, default=0.3)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--no-client-baseline", action="store_true", help="skip timing the bare judge client")
    args = ap.parse_args()

    os.environ.setdefault("OPENAI_API_KEY", "sk-loopback-benchmark")
    parent, child = mp.get_context("fork").Pipe()
    server = mp.get_context("fork").Process(target=_serve, args=(child, args.latency), daemon=True)
    server.start()
    base_url = parent.recv()

    import openai  # noqa: F401  (a one-off import cost of ~1 s, paid before the clock starts)

    from writing_rl.selection.pipeline import Options, SelectionRun

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        with (d / "in.jsonl").open("w") as f:
            for i in range(args.instructions):
                f.write(json.dumps({"id": i, "prompt": f"Write a short essay (#{i}) on topic {i * 7919 % 1000}."})
                        + "\n")
        names = [f"model-{j}" for j in range(args.models)]
        entry = "{{name: {0}, model: {0}, base_url: '{1}', max_tokens: 512}}"
        (d / "models.yaml").write_text(
            f"policy: {entry.format(names[0], base_url)}\ncompetitors:\n"
            + "".join(f"  - {entry.format(n, base_url)}\n" for n in names[1:])
            + f"judge: {{model: judge, base_url: '{base_url}'}}\n"
        )
        run = SelectionRun(Options(input=d / "in.jsonl", models=d / "models.yaml", work_dir=d / "work",
                                   concurrency=args.concurrency, progress=False, k=args.instructions // 2))
        t0 = time.monotonic()
        c0 = time.process_time()
        gen = run.generate()
        t1 = time.monotonic()
        sc = run.score()
        t2 = time.monotonic()
        cpu = time.process_time() - c0
        run.select()
    n_requests = 2 * args.instructions * args.models
    if not args.no_client_baseline:
        import asyncio

        client_only = asyncio.run(_client_only(base_url, n_requests, args.concurrency))
    parent.send("stop")
    srv = parent.recv()
    server.join(5)
    wall = t2 - t0
    ideal = n_requests * args.latency / args.concurrency
    assert srv["count"] == n_requests * (1 if args.no_client_baseline else 2), srv
    ok = gen.done == sc.done == args.instructions * args.models and not gen.failed and not sc.failed
    print(json.dumps({
        "benchmark": "select_generate_score",
        "instructions": args.instructions, "models": args.models, "latency_s": args.latency,
        "concurrency": args.concurrency, "requests": n_requests, "server_max_in_flight": srv["max_in_flight"],
        "wall_s": round(wall, 3), "generate_s": round(t1 - t0, 3), "score_s": round(t2 - t1, 3),
        "ideal_s": round(ideal, 3), "ratio": round(wall / ideal, 3), "target_ratio": 1.2,
        "client_only_wall_s": None if args.no_client_baseline else round(client_only, 3),
        "client_only_ratio": None if args.no_client_baseline else round(client_only / ideal, 3),
        "all_ok": ok, "server_cpu_s": round(srv["server_cpu_s"], 2), "client_cpu_s": round(cpu, 2),
    }))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
