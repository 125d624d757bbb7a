"""Manual edits racing step closes at 100k samples: how many are lost (target 0), and what a step close costs.

A separate process plays the user: it saves ``--edits`` edits of the index file at random moments (half by
rename, half in place), each setting a sample that training never moves to a new level. The owner closes
steps back to back meanwhile (``--wins`` samples advance each step). Afterwards every edit must be in the
file, and must have taken effect at the first step close that started after it was saved (or be rejected
with a kept copy; these edits are all valid, so none should be). Prints one JSON line.

    python benchmarks/bench_index_edits.py [--samples 100000] [--edits 200] [--wins 5000] [--seed 16]
    WRITING_RL_SRC=<another checkout> PYTHONPATH=<it> python benchmarks/bench_index_edits.py   # e.g. older code
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.environ.get("WRITING_RL_SRC") or str(Path(__file__).resolve().parents[1]))

from writing_rl.curriculum.index_file import create_index, read_index  # noqa: E402
from writing_rl.curriculum.state import CurriculumConfig, CurriculumState  # noqa: E402


def user(idx: str, targets: list[int], seed: int, gap_s: float, log_path: str, ready: mp.Event) -> None:
    """Save one edit per target: read the file, change one level, save by rename (even) or in place (odd)."""
    rng = random.Random(seed)
    path = Path(idx)
    ready.wait()
    with open(log_path, "w") as log:
        for i, sid in enumerate(targets):
            time.sleep(rng.uniform(0.0, gap_s))
            while True:
                try:
                    levels = json.loads(path.read_bytes())
                    break
                except ValueError:  # only our own in-place saves leave a partial file
                    time.sleep(0.001)
            value = 1 + i % 3
            levels[str(sid)] = value
            text = json.dumps(levels)
            started = time.time()
            if i % 2 == 0:
                tmp = path.with_name(path.name + ".user-save")
                tmp.write_text(text)
                os.replace(tmp, path)
            else:
                with open(path, "w") as f:
                    f.write(text)
            log.write(json.dumps({"sid": str(sid), "value": value, "saved": time.time(), "started": started,
                                  "how": "rename" if i % 2 == 0 else "in-place"}) + "\n")
            log.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--edits", type=int, default=200)
    ap.add_argument("--wins", type=int, default=5_000, help="samples that win (and advance) in each step")
    ap.add_argument("--gap-s", type=float, default=0.2, help="the user waits up to this long between edits")
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        idx = os.path.join(tmp, "index_bench.json")
        create_index(idx, range(args.samples))
        state = CurriculumState(CurriculumConfig(index_file=idx, experiment="bench"))
        if hasattr(state, "learn_ladders"):  # absent before issue 16: lets the benchmark measure the old code too
            state.learn_ladders({str(i): 999 for i in range(args.samples)})
        targets = list(range(args.samples - args.edits, args.samples))  # never judged: only edits move them
        log_path = os.path.join(tmp, "edits.jsonl")
        ready = mp.get_context("fork").Event()
        proc = mp.get_context("fork").Process(target=user, args=(idx, targets, args.seed, args.gap_s, log_path,
                                                                    ready))
        proc.start()
        rng = random.Random(args.seed)
        closes: list[tuple[float, float, dict[str, int]]] = []  # (started, seconds, target levels after)
        step = 0
        ready.set()
        while proc.is_alive() or step < 2:
            step += 1
            for sid in rng.sample(range(args.samples - args.edits), args.wins):
                state.level_for(sid, step, 1000)
                state.record(sid, step, "win")
            started = time.time()
            t0 = time.perf_counter()
            state.finalize(step)
            closes.append((started, time.perf_counter() - t0, {str(t): state.levels[str(t)] for t in targets}))
        proc.join()
        for _ in range(2):  # two more closes: the last edit's next step
            step += 1
            state.level_for(0, step, 1000)
            started, t0 = time.time(), time.perf_counter()
            state.finalize(step)
            closes.append((started, time.perf_counter() - t0, {str(t): state.levels[str(t)] for t in targets}))
        edits = [json.loads(line) for line in open(log_path)]
        final = read_index(idx)
        rejected = sorted(Path(tmp).glob("index_bench.json.rejected-*"))
        lost = [e for e in edits if final[e["sid"]] != e["value"]]
        late = 0
        for e in edits:  # the first close that started after the save must already hold the edit
            after = next((levels for started, _, levels in closes if started > e["saved"]), None)
            late += after is None or after[e["sid"]] != e["value"]
        seconds = [s for _, s, _ in closes]
    print(json.dumps({
        "bench": "index_edits", "samples": args.samples, "edits": len(edits),
        "by_rename": sum(e["how"] == "rename" for e in edits), "in_place": sum(e["how"] == "in-place" for e in edits),
        "steps_closed": len(closes), "lost": len(lost), "rejected_with_copy": len(rejected),
        "not_applied_at_next_step": late, "step_close_s_p50": round(statistics.median(seconds), 4),
        "step_close_s_p95": round(sorted(seconds)[int(0.95 * (len(seconds) - 1))], 4),
        "meets_target": not lost and not late and not rejected,
    }))


if __name__ == "__main__":
    main()
