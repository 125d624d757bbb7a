"""Preflight against the loopback judge, and the judge / index commands as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from writing_rl.curriculum.index_file import create_index
from writing_rl.curriculum.state import CurriculumConfig, CurriculumState
from writing_rl.testing.fake_judge import Reply

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
KEY = "sk-FAKEKEY-0123456789abcdefghijklmnopqrstuv"


def cli(*args: str, env_extra: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUDGE_", "OPENAI", "DASHSCOPE"))}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "writing_rl.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=180)


@pytest.fixture
def sample_index(tmp_path):
    idx = tmp_path / "index_pf.json"
    create_index(idx, range(22))
    return idx


def preflight(tmp_path, idx, server, *extra, **env):
    return cli("preflight", "--data-dir", str(SAMPLE), "--index-file", str(idx), "--json", *extra,
               env_extra={"JUDGE_BASE_URL": server.base_url, "JUDGE_MODEL": "fake-judge", "OPENAI_API_KEY": KEY,
                          **env})


def test_preflight_passes_and_estimates_the_judge_budget(tmp_path, sample_index, judge_server):
    judge_server.script = lambda req: Reply(text="VERDICT: TIE", prompt_tokens=900, completion_tokens=100)
    out = preflight(tmp_path, sample_index, judge_server, "--train-batch-size", "8", "--rollout-n", "4",
                    "--strategy", "both-orders", "--epochs", "2")
    rep = json.loads(out.stdout)
    status = {c["check"]: c["status"] for c in rep["checks"]}
    assert out.returncode == 0 and rep["ok"], out.stdout
    assert status["data"] == "ok" and status["index file"] == "ok" and status["judge call"] == "ok"
    est = rep["estimates"]
    # 22 training samples, batches of 8: verl drops the incomplete last batch (drop_last=True), 2 steps per epoch
    assert est["judge_calls_per_step"] == 8 * 4 * 2 and est["steps"] == 2 * 2
    assert est["tokens_per_call"] == 1000 and est["judge_tokens_per_run"] == 1000 * 64 * 4
    assert KEY not in out.stdout + out.stderr


@pytest.mark.parametrize("reply,needle", [
    (Reply(status=401), "rejected the API key"),
    (Reply(text="I think B is better overall."), "VERDICT"),
    (Reply(status=500), "gave up after"),
])
def test_preflight_blocks_on_judge_problems(tmp_path, sample_index, judge_server, reply, needle):
    judge_server.script = lambda req: reply
    out = preflight(tmp_path, sample_index, judge_server)
    rep = json.loads(out.stdout)
    row = next(c for c in rep["checks"] if c["check"] in ("judge call",))
    assert out.returncode == 1 and row["status"] == "FAIL" and needle in row["detail"] + row["fix"]


def test_preflight_warns_on_a_slow_judge(tmp_path, sample_index, judge_server):
    judge_server.script = lambda req: Reply(text="VERDICT: A", delay_s=0.3)
    out = preflight(tmp_path, sample_index, judge_server, "--slow-judge-s", "0.1")
    rep = json.loads(out.stdout)
    row = next(c for c in rep["checks"] if c["check"] == "judge call")
    assert row["status"] == "warn" and "slow" in row["fix"] and out.returncode == 0


def test_preflight_catches_an_index_from_other_data(tmp_path, judge_server):
    idx = tmp_path / "index_other.json"
    create_index(idx, range(30))
    out = preflight(tmp_path, idx, judge_server, "--skip-judge")
    rep = json.loads(out.stdout)
    row = next(c for c in rep["checks"] if c["check"] == "index file")
    assert out.returncode == 1 and row["status"] == "FAIL" and "not in the data" in row["detail"]


def test_preflight_table_and_missing_key(tmp_path, sample_index, judge_server):
    out = cli("preflight", "--data-dir", str(SAMPLE), "--index-file", str(sample_index),
              env_extra={"JUDGE_BASE_URL": "https://judge.example.invalid/v1"})
    assert out.returncode == 1 and "OPENAI_API_KEY is not set" in out.stdout and "preflight: FAILED" in out.stdout
    assert "Traceback" not in out.stderr


def test_judge_cli_json_and_text(tmp_path, judge_server):
    judge_server.script = lambda req: Reply(text="B reads better.\nVERDICT: B", delay_s=0.02)
    for name, text in [("q", "Write a limerick."), ("r", "A limerick."), ("x", "<think>plan</think>A fine limerick")]:
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {"JUDGE_BASE_URL": judge_server.base_url, "JUDGE_MODEL": "fake-judge", "OPENAI_API_KEY": KEY}
    args = ["judge", "--question-file", str(tmp_path / "q"), "--reference-file", str(tmp_path / "r"),
            "--response-file", str(tmp_path / "x")]
    out = cli(*args, "--json", env_extra=env)
    res = json.loads(out.stdout)
    assert out.returncode == 0 and res["outcome"] == "win" and res["attempts"] == 1 and res["latency_s"] >= 0.02
    assert res["raw"].endswith("VERDICT: B")
    out = cli(*args, "--strategy", "both-orders", env_extra=env)
    assert "outcome: tie" in out.stdout and "orders disagree: True" in out.stdout
    assert KEY not in out.stdout + out.stderr


def test_judge_cli_errors_are_one_line(tmp_path, judge_server):
    (tmp_path / "q").write_text("Q")
    (tmp_path / "r").write_text("R")
    (tmp_path / "bad").write_bytes(b"caf\xe9 au lait")
    (tmp_path / "empty").write_text("   ")
    base = ["judge", "--question-file", str(tmp_path / "q"), "--reference-file", str(tmp_path / "r")]
    env = {"JUDGE_BASE_URL": judge_server.base_url, "OPENAI_API_KEY": KEY}
    out = cli(*base, "--response-file", str(tmp_path / "bad"), env_extra=env)
    assert out.returncode == 2 and "is not valid UTF-8" in out.stderr and "Traceback" not in out.stderr
    out = cli(*base, "--response-file", str(tmp_path / "empty"), env_extra=env)
    assert out.returncode == 2 and "response is empty" in out.stderr
    out = cli(*base, "--response-file", str(tmp_path / "r"), env_extra={"JUDGE_BASE_URL": "https://x.invalid/v1"})
    assert out.returncode == 2 and "OPENAI_API_KEY is not set" in out.stderr
    judge_server.script = lambda req: Reply(status=404)
    out = cli(*base, "--response-file", str(tmp_path / "r"), env_extra=env)
    assert out.returncode == 2 and "JUDGE_BASE_URL" in out.stderr


def test_index_create_show_and_plot(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "create_index_file.py"), "--experiment", "e1",
                          "--data", str(SAMPLE / "train.parquet"), "--dir", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    idx = tmp_path / "index_e1.json"
    assert json.loads(idx.read_text()) == {str(i): 0 for i in range(22)}
    again = subprocess.run([sys.executable, str(ROOT / "scripts" / "create_index_file.py"), "--experiment", "e1",
                            "--data_num", "5", "--dir", str(tmp_path)], capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr
    state = CurriculumState(CurriculumConfig(index_file=str(idx)))
    for step in (1, 2, 3):
        for sid in range(0, 22, step):
            state.level_for(sid, step, 3)
            state.record(sid, step, "win")
        state.finalize(step)
    out = cli("index", "show", str(idx), "--json")
    info = json.loads(out.stdout)
    assert info["samples"] == 22 and info["step"] == 3 and sum(info["histogram"].values()) == 22
    assert info["level_max"] == 2 and info["at_last_level"] == info["histogram"]["2"]
    text = cli("index", "show", str(idx), "--data", str(SAMPLE)).stdout
    assert "at their last reference" in text and "level  samples  share" in text
    png = tmp_path / "levels.png"
    out = cli("index", "plot", str(idx), "--history", "--out", str(png))
    assert out.returncode == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png.unlink()
    out = cli("index", "plot", str(idx), "--history", "--out", str(png), "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == {"chart": str(png), "index_file": str(idx)}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = cli("index", "plot", str(tmp_path / "nope.json"), "--history")
    assert out.returncode == 2 and "no history" in out.stderr


def test_top_level_help_lists_every_command():
    out = cli("--help")
    for cmd in ("judge", "index", "data", "preflight", "select", "eval"):
        assert cmd in out.stdout
