"""A 3-step GRPO run on CPU through ``train_writing_rl.sh --cpu-smoke``: time per step, judge calls, reward share.

Prints one JSON line:

* ``seconds_per_step``: the median of ``timing_s/step`` over steps 2 and 3 (step 1 also starts vLLM);
* ``judge_calls_per_step``: requests the loopback judge received per training step (no validation);
* ``reward_share_of_step``: ``writing_rl/reward_wall_s`` (the time during which at least one reward
  was being computed) over ``timing_s/step``, median of steps 2 and 3.

Choices: the sample data (22 training rows), TRAIN_BATCH_SIZE=4, ROLLOUT_N=4, 32-token responses,
one reward worker, and a loopback judge answering after ``--judge-latency`` seconds (default 0.2,
a fast hosted judge) with mixed verdicts. The CPU environment must exist (``bash scripts/cpu_env.sh``).

    python benchmarks/bench_e2e.py [--judge-latency 0.2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from writing_rl.testing.fake_judge import FakeJudgeServer, ScriptRequest, hashed_verdict  # noqa: E402
from writing_rl.testing.smoke_run import base_env, launch  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--judge-latency", type=float, default=0.2)
    args = parser.parse_args()
    stamps: list[float] = []
    lock = threading.Lock()

    def judge(req: ScriptRequest):
        with lock:
            stamps.append(time.time())
        reply = hashed_verdict(req)
        reply.delay_s = args.judge_latency
        return reply

    with tempfile.TemporaryDirectory() as tmp, FakeJudgeServer(judge) as srv:
        run_dir = Path(tmp)
        env = base_env(run_dir, ROOT / "data" / "sample", "bench_e2e", srv.base_url, ALGO="grpo", ROLLOUT_N=4,
                       TOTAL_TRAINING_STEPS=3, SAVE_FREQ=-1, MAX_PROMPT_LENGTH=1024, MAX_RESPONSE_LENGTH=32)
        run = launch(run_dir, env, ["--skip-preflight", "trainer.val_before_train=False"], timeout_s=1200)
    if run.returncode != 0:
        print(run.log[-3000:], file=sys.stderr)
        return 1
    metrics = run.metrics()
    steps = [metrics[s]["timing_s/step"] for s in (1, 2, 3)]
    shares = [metrics[s]["writing_rl/reward_wall_s"] / metrics[s]["timing_s/step"] for s in (2, 3)]
    print(json.dumps({
        "bench": "e2e_cpu_grpo",
        "seconds_per_step": round(statistics.median(steps[1:]), 3),
        "first_step_s": round(steps[0], 3),
        "judge_calls_per_step": statistics.median(metrics[s]["writing_rl/judgments"] for s in (1, 2, 3)),
        "judge_requests_total": len(stamps),
        "reward_share_of_step": round(statistics.median(shares), 3),
        "wall_s": round(run.seconds, 1),
        "judge_latency_s": args.judge_latency,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
