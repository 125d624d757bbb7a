"""`writing-rl eval criteria` on real WritingBench rows: rubric bands in the prompt, means per row and domain."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from writing_rl.eval.criteria import parse_criteria
from writing_rl.eval.data import EvalInputError
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

from .eval_helpers import cli


def _wb_rows(shared_data: Path) -> list[dict]:
    return [json.loads(x) for x in (shared_data / "writingbench_length_dev.jsonl").read_text("utf-8").splitlines()]


def test_parse_real_checklist(shared_data: Path) -> None:
    row = _wb_rows(shared_data)[0]
    crits = parse_criteria(row["checklist"], "row")
    assert [c.name for c in crits] == [c["name"] for c in row["checklist"]] and len(crits) == 5
    c0, raw0 = crits[0], row["checklist"][0]
    assert c0.description == raw0["criteria_description"]
    bands = re.findall(r"^- (\d+-\d+): ", c0.rubric, re.MULTILINE)
    assert bands == ["1-2", "3-4", "5-6", "7-8", "9-10"]  # in score order, whatever the key order
    assert raw0["9-10"] in c0.rubric and raw0["1-2"] in c0.rubric
    # the same checklist stored as JSON text (as parquet keeps it) parses the same way
    assert parse_criteria(json.dumps(row["checklist"], ensure_ascii=False), "row") == crits
    assert [c.name for c in parse_criteria(["Be concise", "Use a formal tone"], "row")] == ["Be concise",
                                                                                            "Use a formal tone"]
    with pytest.raises(EvalInputError, match="row: no 'checklist'"):
        parse_criteria(None, "row")
    with pytest.raises(EvalInputError, match="appear twice"):
        parse_criteria(["a", "a"], "row")


def test_scores_per_row_domain_and_overall(shared_data: Path, tmp_path: Path, judge_env: FakeJudgeServer) -> None:
    rows = _wb_rows(shared_data)
    lit = [r for r in rows if r["domain1"] == "Literature & Arts"][:2]
    edu = [r for r in rows if r["domain1"] == "Education"][:1]
    chosen = lit + edu
    data = tmp_path / "wb.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    resp = tmp_path / "resp.jsonl"
    resp.write_text("".join(json.dumps({"id": r["index"], "response": f"<think>hmm</think>Answer {k}."}) + "\n"
                            for k, r in enumerate(chosen)), encoding="utf-8")
    # scores: criterion j (0-based) of answer k gets 2 + j + k, except answer 2's last criterion fails
    names = {c["name"]: j for r in chosen for j, c in enumerate(r["checklist"])}

    def script(req):
        k = int(re.search(r"Answer (\d)\.", req.prompt).group(1))
        j = next(j for n, j in names.items() if f"\n{n}: " in req.prompt)
        assert "hmm" not in req.prompt  # reasoning stripped before judging
        if k == 2 and j == 4:
            return Reply(text="I cannot decide.")
        return Reply(text=f"Because.\n{{\"score\": {2 + j + k}}}")

    judge_env.script = script
    out = tmp_path / "run"
    assert cli(["eval", "criteria", "--data", str(data), "--responses", str(resp), "--out", str(out),
                "--no-progress"]) == 1
    rep = json.loads((out / "report.json").read_text("utf-8"))
    by_id = {r["id"]: r for r in rep["items"]}
    r0, r1, r2 = (by_id[str(r["index"])] for r in chosen)
    assert r0["mean"] == pytest.approx(4.0) and r0["score"] == pytest.approx(40.0)  # 2,3,4,5,6
    assert r1["mean"] == pytest.approx(5.0)  # 3..7
    assert r2["score"] is None and len(r2["scores"]) == 4  # one criterion failed: the row is not scored
    assert rep["headline"]["score"] == pytest.approx(45.0)
    assert rep["by_domain"]["domain1"]["Literature & Arts"] == {"n": 2, "score": pytest.approx(45.0)}
    assert "Education" not in rep["by_domain"]["domain1"]  # its only row failed
    assert rep["failures"][0]["id"] == str(chosen[2]["index"]) and rep["failures"][0]["stage"] == "criteria"
    assert chosen[2]["checklist"][4]["name"] in rep["failures"][0]["error"]
    # the prompt carried the rubric bands of the real row
    first = next(rec.prompt for rec in judge_env.records if chosen[0]["checklist"][1]["name"] in rec.prompt
                 and "Answer 0." in rec.prompt)
    for band in ("1-2", "3-4", "5-6", "7-8", "9-10"):
        assert chosen[0]["checklist"][1][band] in first
    assert chosen[0]["query"] in first and '{"score": <integer 1-10>}' in first
    assert judge_env.count == 15 + 2  # 15 criteria, the failing one re-asked twice
    png = (out / "criteria_by_domain.png").read_bytes()
    assert png[:4] == b"\x89PNG"

    # rerun: only the failed criterion is asked again
    judge_env.reset()
    judge_env.script = lambda req: Reply(text='{"score": 10}')
    assert cli(["eval", "criteria", "--data", str(data), "--responses", str(resp), "--out", str(out),
                "--no-progress"]) == 0
    assert judge_env.count == 1
    rep = json.loads((out / "report.json").read_text("utf-8"))
    row2 = {r["id"]: r for r in rep["items"]}[str(chosen[2]["index"])]
    assert row2["mean"] == pytest.approx((4 + 5 + 6 + 7 + 10) / 5)


def test_rows_without_criteria_are_named(tmp_path: Path, judge_env: FakeJudgeServer,
                                         capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "prompt": "Write.", "criteria": ["Clear"]}\n{"id": "b", "prompt": "Write."}\n',
                    encoding="utf-8")
    resp = tmp_path / "r.jsonl"
    resp.write_text('{"id": "a", "response": "x"}\n{"id": "b", "response": "y"}\n', encoding="utf-8")
    assert cli(["eval", "criteria", "--data", str(data), "--responses", str(resp), "--out", str(tmp_path / "o")]) == 2
    assert "line 2: no 'checklist' or 'criteria'" in capsys.readouterr().err
    assert judge_env.count == 0
