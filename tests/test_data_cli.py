"""`writing-rl data build|check` from the command line: exit codes, one-line errors, the problem table and --json."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.test_data_build import good_rows, write_jsonl
from writing_rl.cli.main import main


def cli(*argv: str) -> int:
    return main(["data", *argv])  # errors are caught once, in main


def test_build_then_check_clean(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", good_rows())
    out = tmp_path / "out"
    assert cli("build", "--input", str(src), "--out", str(out), "--test-size", "1", "--data-source", "mine") == 0
    text = capsys.readouterr().out
    assert "rows: 5 (train 4, test 1); 1 with CJK text" in text
    assert "references per row: min 1, mean 2.0, max 3" in text and "criteria: 3 with, 2 without" in text
    assert f"wrote {out / 'test.parquet'}" in text
    assert pq.read_table(out / "train.parquet").column("data_source").to_pylist() == ["mine"] * 4
    assert cli("check", str(out)) == 0
    assert "0 error(s), 0 warning(s) - clean" in capsys.readouterr().out

    assert cli("build", "--input", str(src), "--out", str(out), "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["removed_stale_test"] is True and summary["files"]["test"] is None


def test_bad_input_lists_every_line_and_writes_nothing(tmp_path, capsys):
    bad = [good_rows()[0], {"prompt": "x"}, "{oops", {"prompt": "y", "references": [""]}]
    src = write_jsonl(tmp_path / "in.jsonl", bad)
    assert cli("build", "--input", str(src), "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 1 unreadable line(s)") and "line 3: not valid JSON" in err
    assert not (tmp_path / "out").exists()
    src = write_jsonl(tmp_path / "in.jsonl", [good_rows()[0], {"prompt": "x"}, {"prompt": "y", "references": [""]}])
    assert cli("build", "--input", str(src), "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "2 problem(s) in the input; nothing was written" in err
    assert "line 2: missing 'references'" in err and "line 3: references[0] is empty" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_check_reports_problems_as_table_and_json(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", good_rows())
    out = tmp_path / "out"
    assert cli("build", "--input", str(src), "--out", str(out)) == 0
    rows = pq.read_table(out / "train.parquet").to_pylist()
    rows[3]["reward_model"]["ground_truth"]["target"][1] = ""
    pq.write_table(pa.Table.from_pylist(rows), out / "train.parquet")
    capsys.readouterr()

    assert cli("check", str(out)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["file", "row", "severity", "field", "message"]
    assert lines[1].split()[:4] == ["train.parquet", "3", "error", "reward_model.ground_truth.target[1]"]
    assert lines[-1].endswith("1 error(s), 0 warning(s)")

    assert cli("check", str(out), "--json", "--judge-max-chars", "20") == 1
    problems = json.loads(capsys.readouterr().out)
    assert {"file": "train.parquet", "row": 3, "field": "reward_model.ground_truth.target[1]",
            "message": "empty reference", "severity": "error"} in problems
    warnings = [p for p in problems if p["severity"] == "warning"]
    assert warnings and all("judge budget of 20" in p["message"] for p in warnings)


def test_warnings_fail_only_with_strict(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", good_rows())
    assert cli("build", "--input", str(src), "--out", str(tmp_path)) == 0
    assert cli("check", str(tmp_path), "--judge-max-chars", "30") == 0  # three references are 31-37 characters
    assert "0 error(s), 3 warning(s)" in capsys.readouterr().out
    assert cli("check", str(tmp_path), "--judge-max-chars", "30", "--strict") == 1
    assert cli("check", str(tmp_path), "--judge-max-chars", "40", "--strict") == 0


@pytest.mark.parametrize("argv, message", [
    (["check", "MISSING"], "does not exist"),
    (["check", ".", "--tokenizer", "tok"], "--tokenizer and --max-prompt-length go together"),
    (["check", ".", "--tokenizer", "tok", "--max-prompt-length", "0"], "must be positive"),
    (["build", "--input", "MISSING.jsonl", "--out", "o"], "input file MISSING.jsonl does not exist"),
])
def test_usage_errors_exit_2_with_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert cli(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
