"""Judge audit wall time: 64 ladder pairs (128 judgments) against a 200 ms loopback judge at concurrency 64.

The judge server runs in its own process (``_server_proc``) and answers every call after exactly
200 ms. The data is a training folder of 64 rows with two references each, built with
``writing-rl data build``. Two figures, each the whole audit from reading the data to writing
``report.json``, ``report.md`` and the three PNG charts:

* ``audit_s``: ``run_audit`` + ``write`` in this process, cold (no warm-up call);
* ``cli_s``: ``writing-rl judge audit`` as a user runs it, in a fresh Python process (start-up and
  imports included); the best of three runs, each listed in ``cli_s_runs``.

The floor is two rounds of 200 ms (128 judgments on 64 slots). Target: both under 5 s. Most of the
rest is Python importing the SDK and matplotlib and drawing the charts (``audit_cpu_s``), so the
figures grow on a loaded machine: the line records the 1-minute load average before and after. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _server_proc import server_process  # noqa: E402

from writing_rl.audit import LaunchSettings, audit_once, load_pairs, write  # noqa: E402
from writing_rl.data.build import build_dataset  # noqa: E402
from writing_rl.judge import JudgeSettings, PairwiseJudge  # noqa: E402

PAIRS, PARALLEL, LATENCY, TARGET_S, CLI_RUNS = 64, 64, 0.2, 5.0, 3


def build(folder: Path) -> None:
    rows = [{"prompt": f"Write a short essay on topic {i}: why town squares matter.",
             "references": [f"Draft {i}. " + "Squares are nice. " * 80,
                            f"Essay {i}. " + "A square gathers a town, its markets and its arguments. " * 30]}
            for i in range(PAIRS)]
    build_dataset(rows, folder)


def in_process(folder: Path, base_url: str, out: Path) -> dict:
    t0, c0 = time.monotonic(), time.process_time()
    data = load_pairs(folder, samples=PAIRS)
    judge = PairwiseJudge(JudgeSettings(model="bench", base_url=base_url, concurrency=PARALLEL, timeout_s=30))
    report = asyncio.run(audit_once(data, judge, log_path=out / "judgments.jsonl", launch=LaunchSettings(),
                                    show_progress=False))
    judged = time.monotonic() - t0
    write(out, report)
    return {"audit_s": time.monotonic() - t0, "audit_cpu_s": time.process_time() - c0,
            "judge_and_summary_s": judged, "pairs": len(data.pairs), "judgments": report["headline"]["judgments"],
            "failed": report["headline"]["failed"], "judge_wall_s": report["stats"]["wall_s"]}


def cli(folder: Path, base_url: str, out: Path) -> tuple[float, int]:
    env = {**os.environ, "JUDGE_BASE_URL": base_url, "JUDGE_MODEL": "bench", "API_PARALLEL": str(PARALLEL)}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "writing_rl.cli.main", "judge", "audit", "--data", str(folder),
                           "--samples", str(PAIRS), "--out", str(out), "--no-progress", "--json"],
                          env=env, capture_output=True, text=True, timeout=120)
    wall = time.monotonic() - t0
    if proc.returncode not in (0, 1):  # 1: the scripted judge's verdict blocks training, as it should
        raise SystemExit(f"the audit command failed: {proc.stderr.strip()[-500:]}")
    return wall, json.loads(proc.stdout)["headline"]["judgments"]


def main() -> None:
    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
    with tempfile.TemporaryDirectory() as tmp, server_process([LATENCY], text="Read both.\nVERDICT: A") as srv:
        folder = Path(tmp) / "data"
        build(folder)
        before = srv.stats()["count"]
        load = [os.getloadavg()[0]]
        result = in_process(folder, srv.base_url, Path(tmp) / "run1")
        runs = [cli(folder, srv.base_url, Path(tmp) / f"cli{r}") for r in range(CLI_RUNS)]
        load.append(os.getloadavg()[0])
        stats = srv.stats()
    cli_s = min(wall for wall, _ in runs)
    print(json.dumps({
        "bench": "judge_audit", **{k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()},
        "cli_s": round(cli_s, 3), "cli_s_runs": [round(wall, 3) for wall, _ in runs],
        "cli_judgments": [n for _, n in runs], "api_parallel": PARALLEL, "latency_s": LATENCY,
        "floor_s": round(2 * LATENCY, 3), "server_requests": stats["count"] - before,
        "server_max_in_flight": stats["max_in_flight"], "cpus": os.cpu_count(),
        "load_avg_1m": [round(v, 2) for v in load], "target_s": TARGET_S,
        "meets_target": cli_s < TARGET_S and result["audit_s"] < TARGET_S,
    }))


if __name__ == "__main__":
    main()
