"""Input validation, generate-then-score in one command, reports and `writing-rl eval compare`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from writing_rl.eval.data import EvalInputError, load_benchmark, load_responses
from writing_rl.eval.report import markdown_table, text_table
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

from .eval_helpers import cli


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _bench(tmp_path: Path) -> Path:
    return _write(tmp_path / "lb.jsonl", [{"prompt": "Write 100 words.", "length": 100},
                                          {"prompt": "写三百字。", "length": 300}])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"prompt": "a", "length": 1}\n{"prompt": \n', "line 2: not valid JSON"),
        ('{"prompt": "a"}\n["x"]\n', "line 2: expected a JSON object"),
        ('{"length": 5}\n', "line 1: no 'prompt' or 'query'"),
        ('{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n', "line 2: id '1' also used at"),
        ('{"prompt": "   "}\n', "line 1: the instruction is empty"),
    ],
)
def test_bad_benchmark_files_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "b.jsonl"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(EvalInputError, match=message):
        load_benchmark(p)


def test_bad_responses_files(tmp_path: Path) -> None:
    items = load_benchmark(_bench(tmp_path))
    assert [it.id for it in items] == ["1", "2"]  # line numbers when rows carry no id
    r = tmp_path / "r.jsonl"
    cases = [
        ('{"id": 1, "response": "a"}\n{"response": "b"}\n', "line 2: no 'id' field, but other lines have one"),
        ('{"id": 1, "response": "a"}\n{"id": 1, "response": "b"}\n', "line 2: a second response for id '1'"),
        ('{"id": 7, "response": "a"}\n', r"id\(s\) '7' are not in the benchmark file"),
        ('{"id": 1, "text": "a"}\n', "line 1: no 'response' field"),
        ('{"id": 1, "response": 5}\n', "'response' must be text"),
        ('{"response": "a"}\n', "no 'id' fields and 1 lines for 2 benchmark rows"),
    ]
    for content, message in cases:
        r.write_text(content, encoding="utf-8")
        with pytest.raises(EvalInputError, match=message):
            load_responses(r, items)
    r.write_bytes(b'{"id": 1, "response": "\xff"}\n')
    with pytest.raises(EvalInputError, match="not valid UTF-8"):
        load_responses(r, items)
    # a failure followed by a success: the success counts; a later failure never hides it
    r.write_text('{"id": 1, "response": null, "error": "HTTP 503"}\n{"id": "1", "response": "ok"}\n'
                 '{"id": 1, "response": null, "error": "late"}\n', encoding="utf-8")
    assert load_responses(r, items)["1"].text == "ok"


def test_missing_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = _bench(tmp_path)
    assert cli(["eval", "longbench-write", "--data", str(data), "--no-quality", "--out", str(tmp_path / "o")]) == 2
    assert "give --responses FILE (existing answers) or --model" in capsys.readouterr().err
    assert cli(["eval", "criteria", "--data", str(tmp_path / "nope.jsonl"), "--responses", "x.jsonl"]) == 2
    assert "benchmark file" in capsys.readouterr().err
    assert cli(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "a does not exist; give a run folder" in capsys.readouterr().err


def test_generate_then_score_compare_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          judge_server: FakeJudgeServer, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    data = _bench(tmp_path)
    # run 1: the endpoint writes exactly the required length (100 English words / 300 Chinese characters)
    judge_server.script = lambda req: Reply(text="word " * 100 if "100" in req.prompt else "字" * 300)
    run1, run2 = tmp_path / "run1", tmp_path / "run2"
    assert cli(["eval", "longbench-write", "--data", str(data), "--model", "m1", "--base-url", judge_server.base_url,
                "--no-quality", "--out", str(run1), "--no-progress"]) == 0
    assert (run1 / "responses.jsonl").is_file() and judge_server.count == 2
    # run 2: half the required length -> S_l = 100 * (1 - (2 - 1)/2) = 50
    judge_server.script = lambda req: Reply(text="word " * 50 if "100" in req.prompt else "字" * 150)
    assert cli(["eval", "longbench-write", "--data", str(data), "--model", "m2", "--base-url", judge_server.base_url,
                "--no-quality", "--out", str(run2), "--no-progress"]) == 0
    capsys.readouterr()
    assert cli(["eval", "compare", str(run1), str(run2 / "report.json")]) == 0
    text = capsys.readouterr().out
    s_l_line = next(line for line in text.splitlines() if line.startswith("S_l "))
    assert s_l_line.split() == ["S_l", "100.00", "50.00", "-50.00"]
    assert cli(["eval", "compare", str(run1), str(run2), "--json"]) == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["S_l | <500"]["diff"] == pytest.approx(-50.0) and rows["items"]["diff"] == 0
    assert "S_q" in rows and rows["S_q"]["diff"] is None  # no quality in either run: no number, no diff


def test_tables() -> None:
    assert markdown_table(["a", "b"], [["x|y", 1.234], ["z", None]]).splitlines() == [
        "| a | b |", "|---|---|", "| x\\|y | 1.23 |", "| z | n/a |"]
    lines = text_table(["metric", "value"], [["S", 12.5], ["n", 3]]).splitlines()
    assert lines[0].split() == ["metric", "value"] and lines[2].split() == ["S", "12.50"]


def test_api_key_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judge_server: FakeJudgeServer,
                               capsys: pytest.CaptureFixture) -> None:
    secret = "sk-test-SECRET-value-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("JUDGE_BASE_URL", judge_server.base_url.replace("http://", "http://user:pw@"))
    judge_server.script = lambda req: Reply(text='{"score": 6}')
    data = _write(tmp_path / "d.jsonl", [{"id": "a", "prompt": "Write.", "criteria": ["Clear", "Vivid"]}])
    resp = _write(tmp_path / "r.jsonl", [{"id": "a", "response": "Text."}])
    out = tmp_path / "run"
    assert cli(["eval", "criteria", "--data", str(data), "--responses", str(resp), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert json.loads((out / "report.json").read_text("utf-8"))["headline"]["score"] == pytest.approx(60.0)
    for f in out.iterdir():
        blob = f.read_bytes()
        assert secret.encode() not in blob and b"user:pw" not in blob, f.name
    assert secret not in printed.out + printed.err


def test_missing_key_for_a_hosted_judge_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGE_BASE_URL", "https://judge.example.com/v1")
    data = _write(tmp_path / "d.jsonl", [{"id": "a", "prompt": "Write.", "criteria": ["Clear"]}])
    resp = _write(tmp_path / "r.jsonl", [{"id": "a", "response": "Text."}])
    assert cli(["eval", "criteria", "--data", str(data), "--responses", str(resp), "--out", str(tmp_path / "o")]) == 2
    assert "OPENAI_API_KEY is not set" in capsys.readouterr().err
