"""Run ``scripts/train_writing_rl.sh --cpu-smoke`` in a child process and read what a user would read.

Used by the end-to-end tests and ``benchmarks/bench_e2e.py``: the console metrics verl printed per
step, and the index file as it stood after every step close.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts" / "train_writing_rl.sh"


@dataclass
class Run:
    returncode: int
    log: str
    seconds: float
    killed: bool
    index_by_step: dict[int, dict[str, int]]

    def metrics(self) -> dict[int, dict[str, float]]:
        return console_metrics(self.log)


_STEP_LINE = re.compile(r"(?:^|\s)step:(\d+) - (.*)$", re.MULTILINE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|nan|inf")


def console_metrics(log: str) -> dict[int, dict[str, float]]:
    """The metrics verl's console logger printed (``step:N - key:value - ...``), by step."""
    out: dict[int, dict[str, float]] = {}
    for m in _STEP_LINE.finditer(log):
        step = int(m.group(1))
        for part in m.group(2).split(" - "):
            key, _, value = part.rpartition(":")
            num = _NUMBER.findall(value)
            if key and num:
                out.setdefault(step, {})[key.strip()] = float(num[-1])
    return out


def _sidecar_step(index_file: Path) -> int | None:
    side = index_file.with_name(index_file.name[:-5] + ".state.json")
    try:
        return int(json.loads(side.read_text(encoding="utf-8")).get("step", 0))
    except (OSError, ValueError, AttributeError):
        return None


def launch(run_dir: Path, env: dict[str, Any], args: list[str], *, timeout_s: float = 900,
           kill_when: Callable[[dict[int, dict[str, int]], str], bool] | None = None) -> Run:
    """Run the launcher with ``--cpu-smoke`` in ``run_dir``; record the index file after every step close.

    ``kill_when(index_by_step, log_so_far)`` is polled; when it returns True the whole run is killed with SIGKILL
    (a crash). A run that outlives ``timeout_s`` is killed and reported as a hang.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "VIRTUAL_ENV"))}
    full_env.pop("PYTHONPATH", None)
    full_env.update({k: str(v) for k, v in env.items()})
    index_file = run_dir / "running_file" / f"index_{env['EXPERIMENT_NAME']}.json"
    log_path = run_dir / f"launcher-{int(time.time() * 1000)}.log"
    index_by_step: dict[int, dict[str, int]] = {}
    start, launched_at = time.monotonic(), time.time()
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(["bash", str(LAUNCHER), "--cpu-smoke", *args], cwd=run_dir, env=full_env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        killed = False
        last_step = _sidecar_step(index_file)
        while proc.poll() is None:
            step = _sidecar_step(index_file)
            if step is not None and step != last_step:
                try:  # the index file is written before the sidecar in a step close
                    index_by_step[step] = json.loads(index_file.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    pass
                last_step = step
            if kill_when is not None and kill_when(index_by_step, log_path.read_text(errors="replace")):
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
            if time.monotonic() - start > timeout_s:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise AssertionError(f"the run hung: killed after {timeout_s:.0f} s; log {log_path}:\n"
                                     + log_path.read_text(errors="replace")[-4000:])
            time.sleep(0.25)
        proc.wait()
    if killed:
        _kill_ray_started_since(launched_at)
    return Run(proc.returncode, log_path.read_text(errors="replace"), time.monotonic() - start, killed,
               index_by_step)


def _kill_ray_started_since(since: float) -> None:
    """After a SIGKILL, end what the run left behind (Ray's daemons and workers, vLLM), as a crash would.

    Ray renames its workers, so they are found by what they run: processes started since the launch
    that have the CPU environment's libraries mapped. Other processes on the machine are left alone.
    """
    env_prefix = str(Path(cpu_python()).parent.parent).encode()
    ticks = os.sysconf("SC_CLK_TCK")
    boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime"))
    for _ in range(3):
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                started = boot + int((proc / "stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
                if started < since - 1 or env_prefix not in (proc / "maps").read_bytes():
                    continue
                os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                continue
        time.sleep(1)


_CPU_PYTHON: str | None = None


def cpu_python() -> str:
    """The CPU training environment's python (scripts/cpu_env.sh creates it once, then reuses it)."""
    global _CPU_PYTHON
    if _CPU_PYTHON is None:
        out = subprocess.run(["bash", str(ROOT / "scripts" / "cpu_env.sh")], check=True, capture_output=True,
                             text=True)
        _CPU_PYTHON = out.stdout.strip().splitlines()[-1]
    return _CPU_PYTHON


def base_env(run_dir: Path, data_dir: Path, experiment: str, judge_url: str, **extra: Any) -> dict[str, str]:
    """The variables a user would set for a small CPU run against the loopback judge."""
    env = {
        "DATA_DIR": str(data_dir), "EXPERIMENT_NAME": experiment, "JUDGE_BASE_URL": judge_url,
        "JUDGE_MODEL": "ladder-judge", "OPENAI_API_KEY": "sk-e2e-not-a-real-key-0000000000",
        "CKPT_DIR": str(run_dir / "checkpoints" / experiment), "TOTAL_EPOCHS": "100", "API_PARALLEL": "8",
        "TRAIN_BATCH_SIZE": "4", "PPO_MINI_BATCH_SIZE": "4", "MAX_PROMPT_LENGTH": "256",
        "MAX_RESPONSE_LENGTH": "16", "RAY_DEDUP_LOGS": "0",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env
