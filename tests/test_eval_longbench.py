"""`writing-rl eval longbench-write` on the real LongBench-Write file, with a scripted loopback judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

from .eval_helpers import cli

DIMS = ("relevance", "accuracy", "coherence", "clarity", "breadth_and_depth", "reading_experience")



def _rows(shared_data: Path) -> list[dict]:
    return [json.loads(x) for x in (shared_data / "longbench_write_en.jsonl").read_text("utf-8").splitlines() if x]


def _response(i: int, x: int) -> str:
    """Designed lengths: <500 exact, 500-2k double, 2k-4k half, >=4k exact; row 49 mixed, row 60 empty."""
    if x < 500:
        y = x
    elif x < 2000:
        y = 2 * x
    elif x < 4000:
        y = x // 2
    else:
        y = x
    if i == 49:  # half Chinese characters, half English words
        return "字" * (y // 2) + "\n" + "word " * (y - y // 2)
    if i == 60:  # everything is inside the reasoning block: the answer is empty
        return "<think>" + "plan " * 50 + "</think>"
    return "<think>draft draft</think>" + " ".join(["word"] * y)



def test_length_quality_buckets_failures_and_resume(shared_data: Path, tmp_path: Path,
                                                     judge_env: FakeJudgeServer) -> None:
    rows = _rows(shared_data)
    assert len(rows) == 60 and all({"prompt", "type", "length"} <= set(r) for r in rows)
    resp = tmp_path / "responses.jsonl"
    resp.write_text("".join(json.dumps({"id": i, "response": _response(i, r["length"])}) + "\n"
                            for i, r in enumerate(rows, start=1) if i != 8), encoding="utf-8")
    prompt_to_row = {r["prompt"]: i for i, r in enumerate(rows, start=1)}

    def script(req):
        i = next(n for p, n in prompt_to_row.items() if p in req.prompt)
        if i == 7 and not getattr(script, "fixed", False):
            return Reply(text="A fine piece; I would give it four out of five.")  # never the JSON line
        dims = {d: 3 for d in DIMS} | {"relevance": 1 + i % 5}
        return Reply(text="Reasons.\n" + json.dumps(dims))

    judge_env.script = script
    out = tmp_path / "run"
    data = str(shared_data / "longbench_write_en.jsonl")
    assert cli(["eval", "longbench-write", "--data", data, "--responses", str(resp), "--out", str(out),
                "--no-progress"]) == 1  # failures are reported through the exit code
    rep = json.loads((out / "report.json").read_text("utf-8"))
    items = {r["id"]: r for r in rep["items"]}
    assert len(items) == 59 and "8" not in items
    assert items["1"]["S_l"] == pytest.approx(100.0) and items["1"]["bucket"] == "<500"
    assert items["18"]["output_words"] == 1000 and items["18"]["S_l"] == pytest.approx(200 / 3)
    assert items["38"]["S_l"] == pytest.approx(50.0) and items["38"]["bucket"] == "2k-4k"
    assert items["49"]["output_words"] == 4000 and items["49"]["S_l"] == pytest.approx(100.0)
    assert items["60"]["output_words"] == 0 and items["60"]["S_l"] == 0.0
    b = rep["buckets"]
    assert (b["<500"]["n"], b["500-2k"]["n"], b["2k-4k"]["n"], b[">=4k"]["n"]) == (16, 20, 11, 12)
    assert b["<500"]["S_l"] == pytest.approx(100.0)
    assert b["500-2k"]["S_l"] == pytest.approx(200 / 3)
    assert b["2k-4k"]["S_l"] == pytest.approx(50.0)
    assert b[">=4k"]["S_l"] == pytest.approx(1100 / 12)
    assert rep["overall"]["S_l"] == pytest.approx((1600 + 20 * 200 / 3 + 550 + 1100) / 59)
    # quality: relevance 1 + i%5, the other five dimensions 3 -> 50 each
    assert items["1"]["S_q"] == pytest.approx((25 + 250) / 6)  # relevance 2
    assert items["5"]["S_q"] == pytest.approx(250 / 6)  # relevance 1
    assert items["1"]["S"] == pytest.approx((100 + 275 / 6) / 2)
    assert items["7"]["S_q"] is None  # failed, never defaulted
    judged = [i for i in range(1, 61) if i not in (7, 8)]
    s_q = sum(((i % 5) * 25 + 250) / 6 for i in judged) / len(judged)
    assert rep["overall"]["S_q"] == pytest.approx(s_q)
    assert rep["overall"]["S"] == pytest.approx((rep["overall"]["S_l"] + s_q) / 2)
    assert rep["overall"]["dims"]["coherence"] == pytest.approx(50.0)
    assert rep["headline"]["S_l"] == rep["overall"]["S_l"] and rep["headline"]["failed"] == 2
    fails = {(f["id"], f["stage"]) for f in rep["failures"]}
    assert fails == {("7", "quality"), ("8", "response")}
    assert rep["judge"]["model"] == "fake-judge" and rep["judge"]["temperature"] == 0.0
    assert rep["judge"]["max_tokens"] == 2048 and len(rep["judge"]["template_sha256"]) == 64
    md = (out / "report.md").read_text("utf-8")
    assert "## By required length" in md and "`7` (quality)" in md and "`8` (response)" in md
    png = (out / "longbench_write_by_length.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    calls_first = judge_env.count
    assert calls_first == 59 + 2  # row 7 was re-asked twice

    # resume: fix the judge, add the missing response; only rows 7 and 8 are judged again
    script.fixed = True
    with resp.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": 8, "response": " ".join(["word"] * 200)}) + "\n")
    judge_env.reset()
    assert cli(["eval", "longbench-write", "--data", data, "--responses", str(resp), "--out", str(out),
                "--no-progress", "--json"]) == 0
    assert judge_env.count == 2
    rep2 = json.loads((out / "report.json").read_text("utf-8"))
    assert rep2["failures"] == [] and rep2["headline"]["scored_quality"] == 60
    assert {r["id"]: r for r in rep2["items"]}["8"]["S_l"] == pytest.approx(75.0)  # x=300, y=200


def test_length_only_needs_no_judge(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = _rows(shared_data)[:5]
    resp = tmp_path / "r.jsonl"
    # no ids: matched by position, and the prompts confirm the order
    resp.write_text("".join(json.dumps({"prompt": r["prompt"], "response": "word " * r["length"]}) + "\n"
                            for r in rows), encoding="utf-8")
    data = tmp_path / "lb.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    assert cli(["eval", "longbench-write", "--data", str(data), "--responses", str(resp), "--out", str(out),
                "--no-quality", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["headline"]["S_l"] == pytest.approx(100.0) and printed["headline"]["S_q"] is None
    rep = json.loads((out / "report.json").read_text("utf-8"))
    assert rep["judge"] is None and (out / "longbench_write_by_length.png").is_file()
    # swapped order is caught instead of scoring the wrong pairs
    lines = resp.read_text("utf-8").splitlines()
    resp.write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n", encoding="utf-8")
    assert cli(["eval", "longbench-write", "--data", str(data), "--responses", str(resp), "--out", str(out),
                "--no-quality"]) == 2
    assert "not in the same order" in capsys.readouterr().err


def test_bad_length_field_is_named_before_any_call(tmp_path: Path, judge_env: FakeJudgeServer,
                                                   capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "lb.jsonl"
    data.write_text(json.dumps({"prompt": "Write 100 words.", "length": 100}) + "\n"
                    + json.dumps({"prompt": "Write something.", "length": "long"}) + "\n", encoding="utf-8")
    resp = tmp_path / "r.jsonl"
    resp.write_text('{"id": 1, "response": "hi"}\n{"id": 2, "response": "hi"}\n', encoding="utf-8")
    assert cli(["eval", "longbench-write", "--data", str(data), "--responses", str(resp),
                "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "'length'" in err and "positive integer" in err
    assert judge_env.count == 0
