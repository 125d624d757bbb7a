"""Reward path latency: judging while rollouts finish versus after the whole batch, and curriculum writes.

512 trajectories arrive over a simulated 20 s rollout window (uniform random times); each is
scored by the real ``parallel`` reward manager inside verl's ``RewardLoopWorker`` (composed from
verl's config) against a loopback judge with lognormal latency (mean 2 s) at concurrency 64.

* ``tail_s``: time from the last arrival to the last reward, judging each trajectory on arrival.
* ``baseline_s``: the same, when every judgment starts only after the last arrival (the original).
* ``curriculum_step_s``: closing one step (level-ups plus the atomic index and sidecar writes)
  for 100,000 samples.

Targets: tail_s <= 1.5 x the slowest single judgment and >= 5x under baseline_s;
curriculum_step_s < 0.5 s. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _server_proc import lognormal_delays, server_process  # noqa: E402

N, WINDOW_S, MEAN_S, SIGMA, PARALLEL, CURRICULUM_N = 512, 20.0, 2.0, 0.25, 64, 100_000


def make_worker(tmp: str, base_url: str, experiment: str):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    from tests.verl_helpers import compose_reward_config
    from writing_rl.curriculum.index_file import create_index
    from writing_rl.testing.tiny_tokenizer import build_tiny_tokenizer

    tok_dir = build_tiny_tokenizer(os.path.join(tmp, "tok"))
    idx = os.path.join(tmp, f"index_{experiment}.json")
    create_index(idx, range(N))
    cfg = compose_reward_config(tok_dir, idx, base_url, experiment=experiment,
                                extra=[f"+reward.reward_kwargs.judge.concurrency={PARALLEL}"])
    return RewardLoopWorker(cfg), tok_dir


async def scenario(worker, tok, arrivals: list[float], on_arrival: bool) -> tuple[float, float]:
    from tests.verl_helpers import gt, make_batch

    t0 = time.monotonic()
    done: list[float] = []

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, t0 + arrivals[i] - time.monotonic()))
        if not on_arrival:  # the original: wait for the whole batch to finish rolling out
            await asyncio.sleep(max(0.0, t0 + max(arrivals) - time.monotonic()))
        batch = make_batch(tok, [{"response": f"answer traj-{i} here", "gt": gt(i, 2), "step": 1}])
        await worker.compute_score(batch[0:1])
        done.append(time.monotonic())

    await asyncio.gather(*(one(i) for i in range(N)))
    last_arrival = t0 + max(arrivals)
    return max(done) - last_arrival, max(done) - t0


def curriculum_step_time() -> float:
    from writing_rl.curriculum.index_file import create_index
    from writing_rl.curriculum.state import CurriculumConfig, CurriculumState

    with tempfile.TemporaryDirectory() as tmp:
        idx = os.path.join(tmp, "index_big.json")
        create_index(idx, range(CURRICULUM_N))
        state = CurriculumState(CurriculumConfig(index_file=idx))
        for i in range(CURRICULUM_N):
            state.level_for(i, 1, 4)
            state.record(i, 1, "win" if i % 3 else "loss")
        t0 = time.perf_counter()
        state.finalize(1)
        return time.perf_counter() - t0


def main() -> None:
    from transformers import AutoTokenizer

    from writing_rl.curriculum.owner import reset_local_owners

    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
    rng = random.Random(7)
    arrivals = sorted(rng.uniform(0, WINDOW_S) for _ in range(N))
    delays = lognormal_delays(N, MEAN_S, sigma=SIGMA, seed=3)
    with tempfile.TemporaryDirectory() as tmp, server_process(delays, key_regex=r"traj-(\d+)") as srv:
        worker, tok_dir = make_worker(tmp, srv.base_url, "bench_on_arrival")
        tok = AutoTokenizer.from_pretrained(tok_dir)
        loop = asyncio.new_event_loop()
        tail, total = loop.run_until_complete(scenario(worker, tok, arrivals, on_arrival=True))
        reset_local_owners()
        worker_b, _ = make_worker(os.path.join(tmp, "b"), srv.base_url, "bench_baseline")
        baseline, total_b = loop.run_until_complete(scenario(worker_b, tok, arrivals, on_arrival=False))
        loop.close()
    slowest = max(delays)
    step_s = curriculum_step_time()
    print(json.dumps({
        "bench": "reward", "trajectories": N, "rollout_window_s": WINDOW_S, "judge_latency_mean_s": MEAN_S,
        "concurrency": PARALLEL, "tail_s": round(tail, 3), "baseline_s": round(baseline, 3),
        "slowest_judgment_s": round(slowest, 3), "tail_over_slowest": round(tail / slowest, 3),
        "baseline_over_tail": round(baseline / tail, 2), "total_s": round(total, 2),
        "baseline_total_s": round(total_b, 2),
        "curriculum_samples": CURRICULUM_N, "curriculum_step_s": round(step_s, 3),
        "meets_target": tail <= 1.5 * slowest and baseline >= 5 * tail and step_s < 0.5,
    }))


if __name__ == "__main__":
    main()
