"""`writing-rl eval generate`: what is sent, what is written, failures, and resumption after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from writing_rl.eval.data import load_benchmark, load_responses
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

from .eval_helpers import cli


@pytest.fixture
def model_server(monkeypatch: pytest.MonkeyPatch, judge_server: FakeJudgeServer) -> FakeJudgeServer:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    return judge_server


def _data(tmp_path: Path, n: int) -> Path:
    p = tmp_path / "bench.jsonl"
    p.write_text("".join(json.dumps({"index": 100 + i, "query": f"Write piece number {i}."}) + "\n"
                         for i in range(n)), encoding="utf-8")
    return p


def _gen(data: Path, out: Path, url: str, *extra: str) -> int:
    return cli(["eval", "generate", "--data", str(data), "--model", "policy-7b", "--base-url", url,
                "--out", str(out), "--no-progress", "--retries", "0", *extra])


def test_generate_sends_prompts_and_writes_records(tmp_path: Path, model_server: FakeJudgeServer) -> None:
    model_server.script = lambda req: Reply(text=f"Answer to: {req.body['messages'][-1]['content']}",
                                            completion_tokens=7)
    system = tmp_path / "system.txt"
    system.write_text("You are a careful writer.", encoding="utf-8")
    out = tmp_path / "resp.jsonl"
    assert _gen(_data(tmp_path, 3), out, model_server.base_url, "--system-prompt", str(system)) == 0
    assert all(rec.prompt.startswith("You are a careful writer.\n") for rec in model_server.records)
    rows = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert sorted(r["id"] for r in rows) == ["100", "101", "102"]
    r0 = next(r for r in rows if r["id"] == "100")
    assert r0["response"] == "Answer to: Write piece number 0." and r0["model"] == "policy-7b"
    assert r0["prompt"] == "Write piece number 0." and r0["error"] is None and r0["completion_tokens"] == 7
    assert model_server.count == 3
    # a rerun has nothing left to do
    model_server.reset()
    assert _gen(_data(tmp_path, 3), out, model_server.base_url) == 0
    assert model_server.count == 0


def test_sampling_settings_reach_the_endpoint(tmp_path: Path, model_server: FakeJudgeServer) -> None:
    seen: list[dict] = []
    model_server.script = lambda req: (seen.append(req.body), Reply(text="ok"))[1]
    assert _gen(_data(tmp_path, 1), tmp_path / "r.jsonl", model_server.base_url, "--temperature", "0.3",
                "--max-tokens", "512") == 0
    assert seen[0]["temperature"] == 0.3 and seen[0]["max_tokens"] == 512 and seen[0]["model"] == "policy-7b"
    assert seen[0]["messages"] == [{"role": "user", "content": "Write piece number 0."}]


def test_failures_are_recorded_then_retried(tmp_path: Path, model_server: FakeJudgeServer,
                                            capsys: pytest.CaptureFixture) -> None:
    model_server.script = lambda req: Reply(status=503) if "number 1." in req.prompt else Reply(text="fine")
    data, out = _data(tmp_path, 3), tmp_path / "resp.jsonl"
    assert _gen(data, out, model_server.base_url) == 1
    assert "failed 101: gave up after 1 attempts" in capsys.readouterr().err
    failed = [json.loads(x) for x in out.read_text("utf-8").splitlines() if '"101"' in x]
    assert failed[0]["response"] is None and "HTTP 503" in failed[0]["error"]
    items = load_benchmark(data)
    assert load_responses(out, items)["101"].text is None  # a failure is never an empty answer
    model_server.reset()
    model_server.script = lambda req: Reply(text="second try")
    assert _gen(data, out, model_server.base_url) == 0
    assert model_server.count == 1
    assert load_responses(out, items)["101"].text == "second try"


def test_other_model_in_the_file_is_refused(tmp_path: Path, model_server: FakeJudgeServer,
                                            capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "resp.jsonl"
    out.write_text(json.dumps({"id": "100", "response": "x", "model": "another"}) + "\n", encoding="utf-8")
    assert _gen(_data(tmp_path, 2), out, model_server.base_url) == 2
    assert "holds answers from model 'another'" in capsys.readouterr().err and model_server.count == 0


def test_parquet_messages_are_sent_as_they_are(tmp_path: Path, model_server: FakeJudgeServer) -> None:
    seen: list[list] = []
    model_server.script = lambda req: (seen.append(req.body["messages"]), Reply(text="ok"))[1]
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Describe rain."}]
    gt = {"prompt": "Describe rain.", "target": ["r"], "criteria": None, "id": 0, "reference_scores": None}
    pd.DataFrame([{"data_source": "writing_rl", "prompt": msgs, "ability": "writing",
                   "reward_model": {"style": "model", "ground_truth": gt},
                   "extra_info": {"index": 0, "split": "test"}}]).to_parquet(tmp_path / "t.parquet")
    assert cli(["eval", "generate", "--data", str(tmp_path / "t.parquet"), "--model", "m", "--base-url",
                model_server.base_url, "--out", str(tmp_path / "r.jsonl"), "--no-progress"]) == 0
    assert seen == [msgs]
    assert json.loads((tmp_path / "r.jsonl").read_text("utf-8"))["prompt"] == "Describe rain."


def test_resume_after_kill(tmp_path: Path, model_server: FakeJudgeServer) -> None:
    """Kill the generating process after 5 answers; the rerun asks only for the other 7."""
    model_server.script = lambda req: Reply(text="done", delay_s=0.0 if req.index < 5 else 3.0)
    data, out = _data(tmp_path, 12), tmp_path / "resp.jsonl"
    code = ("import argparse,sys; from writing_rl.cli import eval_cmd; p=argparse.ArgumentParser(); "
            "eval_cmd.register(p.add_subparsers()); a=p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "eval", "generate", "--data", str(data), "--model", "policy-7b", "--base-url",
         model_server.base_url, "--out", str(out), "--concurrency", "1", "--no-progress"],
        env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and model_server.count < 6:
            time.sleep(0.05)
        assert model_server.count == 6  # five answered, the sixth hanging
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(out.read_text("utf-8").splitlines()) == 5
    model_server.reset()
    model_server.script = lambda req: Reply(text="done")
    assert _gen(data, out, model_server.base_url) == 0
    assert model_server.count == 7
    ids = [json.loads(x)["id"] for x in out.read_text("utf-8").splitlines()]
    assert sorted(ids) == sorted(str(100 + i) for i in range(12)) and len(ids) == len(set(ids))
    deadline = time.monotonic() + 5  # let the orphaned slow request end before the server stops
    while model_server.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)


def test_endpoint_key_from_its_own_variable(tmp_path: Path, model_server: FakeJudgeServer,
                                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    seen: list[str] = []
    model_server.script = lambda req: (seen.append(req.headers.get("Authorization", "")), Reply(text="ok"))[1]
    monkeypatch.setenv("POLICY_KEY", "sk-policy-key")
    assert _gen(_data(tmp_path, 1), tmp_path / "r.jsonl", model_server.base_url, "--api-key-env", "POLICY_KEY") == 0
    assert seen == ["Bearer sk-policy-key"]  # not the judge's OPENAI_API_KEY
    assert _gen(_data(tmp_path, 2), tmp_path / "r.jsonl", model_server.base_url, "--api-key-env", "UNSET_VAR") == 2
    assert "UNSET_VAR (named by --api-key-env or api_key_env) is not set" in capsys.readouterr().err
