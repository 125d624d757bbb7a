"""scripts/serve_judge.sh with a fake `vllm` on PATH that serves a loopback judge on the given port."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from writing_rl.judge import JudgeClient, JudgeSettings

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "serve_judge.sh"

FAKE_VLLM = f"""#!{sys.executable}
# Stands in for `vllm serve MODEL --port P ...`: records how it was started, then serves a loopback judge.
import json, os, signal, subprocess, sys, time

args = sys.argv[1:]
assert args[0] == "serve", args
port = int(args[args.index("--port") + 1])
host = args[args.index("--host") + 1] if "--host" in args else "127.0.0.1"  # vLLM's default: every interface
if os.environ.get("FAKE_VLLM_FAIL_PORT") == str(port):
    print("fake vllm: CUDA out of memory while loading", args[1], flush=True)
    sys.exit(3)
worker = subprocess.Popen(["sleep", "300"])  # like a tensor-parallel worker process
time.sleep(float(os.environ.get("FAKE_VLLM_STARTUP_S", "0")))  # loading the model
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

info = dict(pid=os.getpid(), worker=worker.pid, args=args, gpus=os.environ.get("CUDA_VISIBLE_DEVICES"))
with open(os.path.join(os.environ["FAKE_VLLM_DIR"], f"replica_{{port}}.json"), "w") as f:
    json.dump(info, f)
srv = FakeJudgeServer(lambda r: Reply(text=f"served by {{port}}\\nVERDICT: A"), host=host, port=port).start()
print("fake vllm: ready on", port, flush=True)
signal.signal(signal.SIGTERM, lambda *a: (srv.stop(), sys.exit(0)))
while True:
    time.sleep(1)
"""


def free_port_pair() -> int:
    """A port P such that P and P+1 are both free, below the usual ephemeral range (no client takes them)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        try:
            for p in (port, port + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free pair of ports")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    vllm = bin_dir / "vllm"
    vllm.write_text(FAKE_VLLM)
    vllm.chmod(0o755)
    (tmp_path / "replicas").mkdir()
    return bin_dir


def script_env(tmp_path: Path, bin_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "OPENAI_API_KEY")}
    env.update(PATH=f"{bin_dir}:/usr/bin:/bin", FAKE_VLLM_DIR=str(tmp_path / "replicas"), **extra)
    return env


def run_script(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_starts_replicas_waits_until_ready_serves_a_pool_and_stops_on_sigterm(tmp_path, fake_bin):
    port = free_port_pair()
    env = script_env(tmp_path, fake_bin, FAKE_VLLM_STARTUP_S="1.0")
    proc = subprocess.Popen(
        ["bash", str(SCRIPT), "judge-model", "--replicas", "2", "--gpus", "0,1", "--port-base", str(port),
         "--host", "127.0.0.1", "--cap", "4", "--timeout", "60", "--", "--max-model-len", "8192",
         "--served-model-name", "my-judge"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x.rstrip("\n")) for x in proc.stdout], daemon=True).start()
    replicas: list[dict] = []
    try:
        exports: dict[str, str] = {}
        deadline = time.monotonic() + 45
        while len(exports) < 3 and time.monotonic() < deadline:
            try:
                key, _, value = lines.get(timeout=1).removeprefix("export ").partition("=")
                exports[key] = value
            except queue.Empty:
                assert proc.poll() is None, proc.stderr.read()
        expected_url = f"http://127.0.0.1:{port}/v1#4,http://127.0.0.1:{port + 1}/v1#4"
        assert exports == {"JUDGE_BASE_URL": expected_url, "API_PARALLEL": "8", "JUDGE_MODEL": "my-judge"}
        assert port_open(port) and port_open(port + 1)  # printed only once both answer

        replicas = [json.loads((tmp_path / "replicas" / f"replica_{p}.json").read_text()) for p in (port, port + 1)]
        assert [r["gpus"] for r in replicas] == ["0", "1"]  # one GPU each
        for r, p in zip(replicas, (port, port + 1), strict=True):
            # --host binds vLLM to that address (it used to change only the printed URL)
            assert r["args"] == ["serve", "judge-model", "--host", "127.0.0.1", "--port", str(p),
                                 "--tensor-parallel-size", "1", "--max-model-len", "8192",
                                 "--served-model-name", "my-judge"]
        assert (tmp_path / "logs" / "judge_0.log").read_text().startswith("fake vllm: ready on")

        settings = JudgeSettings.from_env(env=exports)  # exactly what a user would export

        async def judge_calls():
            client = JudgeClient(settings.replace(timeout_s=5.0))
            try:
                return await asyncio.gather(*(client.chat([{"role": "user", "content": f"q{i}"}]) for i in range(8)))
            finally:
                await client.close()

        results = asyncio.run(judge_calls())
        assert all(r.ok for r in results)
        assert {r.text.splitlines()[0] for r in results} == {f"served by {port}", f"served by {port + 1}"}

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 143
        assert "stopped 2 judge replica(s)" in proc.stderr.read()
        assert not port_open(port) and not port_open(port + 1)
        deadline = time.monotonic() + 5
        while any(alive(r[k]) for r in replicas for k in ("pid", "worker")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(r[k]) for r in replicas for k in ("pid", "worker"))  # workers too
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for r in replicas:
            for k in ("pid", "worker"):
                if alive(r[k]):
                    os.kill(r[k], signal.SIGKILL)


def test_gpu_slices_for_tensor_parallel_replicas(tmp_path, fake_bin):
    """--tp 2 over four GPUs: replica 0 gets 0,1 and replica 1 gets 2,3; a replica that dies fails the start."""
    port = free_port_pair()
    env = script_env(tmp_path, fake_bin, FAKE_VLLM_FAIL_PORT=str(port + 1), CUDA_VISIBLE_DEVICES="4,5,6,7")
    res = run_script(tmp_path, env, "m", "--replicas", "2", "--tp", "2", "--port-base", str(port), "--timeout", "30")
    assert res.returncode == 1 and res.stdout == ""  # no JUDGE_BASE_URL for a half-started pool
    assert f"replica 1 (port {port + 1}) exited with code 3 before it was ready; see logs/judge_1.log" in res.stderr
    assert "CUDA out of memory while loading m" in res.stderr  # the log's tail is shown
    assert "replica 0: GPUs 4,5, port" in res.stderr and "replica 1: GPUs 6,7, port" in res.stderr
    time.sleep(0.2)
    assert not port_open(port)  # the healthy replica was stopped too
    r = json.loads((tmp_path / "replicas" / f"replica_{port}.json").read_text())  # replica 0 was ready
    assert r["gpus"] == "4,5" and "--tensor-parallel-size" in r["args"] and r["args"][-1] == "2"
    assert not alive(r["pid"]) and not alive(r["worker"])


@pytest.mark.parametrize(
    "args, extra_env, message",
    [
        (["m", "--replicas", "2", "--tp", "2", "--gpus", "0,1,2"], {}, "needs 4 GPUs but only 3 are available (0,1,2)"),
        (["m", "--replicas", "3"], {"NVIDIA_SMI_OUT": "0\n1\n"}, "needs 3 GPUs but only 2 are available (0,1)"),
        (["m"], {"NVIDIA_SMI_OUT": ""}, "no GPUs found"),
        (["--gpus", "0"], {}, "MODEL is required"),
        (["m", "--tp", "two", "--gpus", "0"], {}, "--tp must be a whole number"),
        (["m", "--gpus", "0", "--bogus"], {}, "unknown option --bogus"),
    ],
)
def test_bad_requests_fail_fast_with_a_clear_message(tmp_path, fake_bin, args, extra_env, message):
    smi = fake_bin / "nvidia-smi"
    smi.write_text('#!/bin/sh\nprintf "%s" "$NVIDIA_SMI_OUT"\n')
    smi.chmod(0o755)
    res = run_script(tmp_path, script_env(tmp_path, fake_bin, **extra_env), *args)
    assert res.returncode == 2 and message in res.stderr and res.stdout == ""
    assert not list((tmp_path / "replicas").iterdir())  # nothing was started


def test_missing_vllm_and_busy_port_are_reported(tmp_path, fake_bin):
    (fake_bin / "vllm").unlink()
    res = run_script(tmp_path, script_env(tmp_path, fake_bin), "m", "--gpus", "0")
    assert res.returncode == 2 and "vllm is not on PATH" in res.stderr

    (fake_bin / "vllm").write_text(FAKE_VLLM)
    (fake_bin / "vllm").chmod(0o755)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = run_script(tmp_path, script_env(tmp_path, fake_bin), "m", "--gpus", "0", "--port-base", str(port))
    assert res.returncode == 2 and f"port {port} is already in use; pick another --port-base" in res.stderr
