"""`data build`: line-numbered input errors, the exact parquet schema, splits, system prompts, WritingBench rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from writing_rl.data import SCHEMA, DataError, build_dataset, check_dataset, load_input_rows
from writing_rl.judge import format_criteria
from writing_rl.judge.templates import PROMPTS_DIR

CHECKLIST = [{"name": "Structure", "criteria_description": "Has a clear beginning, middle and end."},
             {"name": "Tone", "criteria_description": "Warm but not sentimental."}]


def good_rows() -> list[dict]:
    """Five valid rows using every accepted input form."""
    return [
        {"id": "a", "prompt": "Write a haiku about frost.", "references": ["cold", "white frost", "glass grass"],
         "reference_scores": [1, 4.5, 8], "criteria": ["Follows 5-7-5", "Concrete image"]},
        {"query": "写一段关于秋天的文字。", "target": ["秋天到了。", "落叶铺满了小路，风里有桂花香。"]},
        {"prompt": "Describe a lamp.", "target": "A brass lamp with a green shade."},
        {"prompt": "Write a toast for a wedding.", "references": ["Cheers.", "To the couple, who met at a bus stop."],
         "criteria": CHECKLIST},
        {"prompt": "Summarize the memo.", "references": ["It is a memo.", "Budgets rise 3%; hiring pauses."],
         "criteria": "Under 50 words."},
    ]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_round_trip_exact_schema_and_values(tmp_path):
    summary = build_dataset(good_rows(), tmp_path)
    assert summary["train_rows"] == 5 and summary["test_rows"] == 0 and summary["files"]["test"] is None
    assert not (tmp_path / "test.parquet").exists()
    assert pq.read_schema(tmp_path / "train.parquet").equals(SCHEMA)

    df = pd.read_parquet(tmp_path / "train.parquet")
    assert list(df.columns) == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    system = (PROMPTS_DIR / "system_default.txt").read_text(encoding="utf-8").strip()
    r0 = df.iloc[0]
    assert r0["data_source"] == "writing_rl" and r0["ability"] == "writing"
    assert [dict(m) for m in r0["prompt"]] == [{"role": "system", "content": system},
                                               {"role": "user", "content": "Write a haiku about frost."}]
    gt = r0["reward_model"]["ground_truth"]
    assert r0["reward_model"]["style"] == "model"
    assert list(gt["target"]) == ["cold", "white frost", "glass grass"]
    assert list(gt["reference_scores"]) == [1.0, 4.5, 8.0]
    assert json.loads(gt["criteria"]) == ["Follows 5-7-5", "Concrete image"]
    assert gt["prompt"] == "Write a haiku about frost." and gt["id"] == 0
    assert r0["extra_info"] == {"index": 0, "split": "train"}

    gts = [rm["ground_truth"] for rm in df["reward_model"]]
    assert [g["id"] for g in gts] == [0, 1, 2, 3, 4] == [e["index"] for e in df["extra_info"]]
    assert gts[1]["prompt"] == "写一段关于秋天的文字。" and gts[1]["criteria"] is None
    assert gts[1]["reference_scores"] is None
    assert list(gts[2]["target"]) == ["A brass lamp with a green shade."]  # a single `target` string
    assert json.loads(gts[3]["criteria"]) == CHECKLIST
    assert gts[4]["criteria"] == "Under 50 words."  # plain text stays text
    assert summary["with_criteria"] == 3 and summary["without_criteria"] == 2 and summary["cjk_rows"] == 1
    assert summary["references_per_row"] == {"min": 1, "mean": 2.0, "max": 3}
    assert check_dataset(tmp_path) == []


def test_test_split_is_seeded_stable_and_numbered_from_zero(tmp_path):
    rows = [{"prompt": f"Write piece {i}.", "references": [f"ref {i}"]} for i in range(10)]
    build_dataset(rows, tmp_path / "a", test_size=3, seed=7)
    build_dataset(rows, tmp_path / "b", test_size=3, seed=7)
    prompts = {}
    for split in ("train", "test"):
        df = pd.read_parquet(tmp_path / "a" / f"{split}.parquet")
        prompts[split] = [rm["ground_truth"]["prompt"] for rm in df["reward_model"]]
        assert [rm["ground_truth"]["id"] for rm in df["reward_model"]] == list(range(len(df)))
        assert {e["split"] for e in df["extra_info"]} == {split}
        order = [int(p.split()[-1].rstrip(".")) for p in prompts[split]]
        assert order == sorted(order)  # input order kept inside each split
        assert (tmp_path / "b" / f"{split}.parquet").read_bytes() == (tmp_path / "a" / f"{split}.parquet").read_bytes()
    assert len(prompts["test"]) == 3 and len(prompts["train"]) == 7
    assert sorted(prompts["train"] + prompts["test"]) == sorted(r["prompt"] for r in rows)
    picks = set()
    for seed in range(5):
        build_dataset(rows, tmp_path / f"s{seed}", test_size=3, seed=seed)
        picks.add(tuple(rm["ground_truth"]["prompt"] for rm in
                        pd.read_parquet(tmp_path / f"s{seed}" / "test.parquet")["reward_model"]))
    assert len(picks) > 1  # the seed matters


def test_test_size_must_leave_training_rows_and_stale_test_split_is_removed(tmp_path):
    with pytest.raises(DataError, match="leaves no training rows out of 5; use at most 4"):
        build_dataset(good_rows(), tmp_path, test_size=5)
    with pytest.raises(DataError, match="test-size"):
        build_dataset(good_rows(), tmp_path, test_size=-1)
    assert list(tmp_path.iterdir()) == []
    build_dataset(good_rows(), tmp_path, test_size=2)
    assert (tmp_path / "test.parquet").exists()
    summary = build_dataset(good_rows(), tmp_path, test_size=0)
    assert summary["removed_stale_test"] and not (tmp_path / "test.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.parquet"]  # no temp files left


@pytest.mark.parametrize("spec", ["none", "think", "file"])
def test_system_prompt_choices(tmp_path, spec):
    if spec == "file":
        (tmp_path / "sys.txt").write_text("  You write limericks only.\n", encoding="utf-8")
        spec = str(tmp_path / "sys.txt")
    build_dataset(good_rows(), tmp_path / "out", system_prompt=spec)
    msgs = [dict(m) for m in pd.read_parquet(tmp_path / "out" / "train.parquet")["prompt"][0]]
    if spec == "none":
        assert msgs == [{"role": "user", "content": "Write a haiku about frost."}]
    elif spec == "think":
        assert msgs[0]["role"] == "system"
        assert all(tag in msgs[0]["content"] for tag in ("<think>", "</think>", "<answer>", "</answer>"))
    else:
        assert msgs[0] == {"role": "system", "content": "You write limericks only."}


def test_bad_system_prompt_file_is_reported(tmp_path):
    with pytest.raises(DataError, match="neither default, think, none nor an existing file"):
        build_dataset(good_rows(), tmp_path, system_prompt=str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(DataError, match="empty.txt is empty"):
        build_dataset(good_rows(), tmp_path, system_prompt=str(tmp_path / "empty.txt"))
    assert not (tmp_path / "train.parquet").exists()


def test_every_bad_line_is_reported_at_once_with_line_numbers(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [
        {"prompt": "ok", "references": ["fine"], "id": 1},                        # line 1
        {"references": ["no prompt"]},                                            # line 2
        {"prompt": "x", "references": []},                                        # line 3
        {"prompt": "x", "references": ["a", "  "]},                               # line 4
        {"prompt": "x", "references": ["b", "a"], "reference_scores": [5, 2]},    # line 5
        {"prompt": "x", "references": ["a", "b"], "reference_scores": [1]},       # line 6
        {"prompt": "x", "query": "y", "references": ["a"]},                       # line 7
        {"prompt": "x", "references": ["a"], "id": 1},                            # line 8
        {"prompt": "x", "references": ["a"], "criteria": [{"rubric": 3}]},        # line 9
        ["not", "an", "object"],                                                  # line 10
        {"prompt": "", "references": "a string is not a list"},                   # line 11
    ])
    with pytest.raises(DataError) as info:
        load_input_rows(path)
    text = "\n".join(info.value.problems)
    for line, what in [(2, "missing 'prompt'"), (3, "'references' is empty"), (4, r"references\[1\] is empty"),
                       (5, "not sorted by increasing quality"), (6, "has 1 scores for 2 references"),
                       (7, "both 'prompt' and its alias 'query'"), (8, "duplicate id 1 \\(first at .*line 1\\)"),
                       (9, r"criteria\[0\] needs a non-empty 'name'"), (10, "expected a JSON object"),
                       (11, "'prompt' is empty")]:
        assert any(p.startswith(f"{path}: line {line}") and re.search(what, p) for p in info.value.problems), line
    assert not any(p.startswith((f"{path}: line 1:", f"{path}: line 1 ")) for p in info.value.problems), text
    assert "'references' must be a list" in text


def test_unparseable_lines_and_blank_lines(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"prompt": "a", "references": ["b"]}\n\n{"prompt": "a",\n\xff\xfe\n')
    with pytest.raises(DataError) as info:
        load_input_rows(path)
    assert any("line 3: not valid JSON" in p for p in info.value.problems)
    assert any("line 4: not valid UTF-8" in p for p in info.value.problems)
    with pytest.raises(DataError, match="does not exist"):
        load_input_rows(tmp_path / "nope.jsonl")
    (tmp_path / "blank.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no rows"):
        load_input_rows(tmp_path / "blank.jsonl")


def test_failed_build_keeps_the_previous_files(tmp_path):
    build_dataset(good_rows(), tmp_path, test_size=1)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(DataError, match=r"rows\[1\]: 'references' is empty"):
        build_dataset([good_rows()[0], {"prompt": "x", "references": []}], tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_writingbench_rows_keep_their_checklist(tmp_path, shared_data):
    lines = (shared_data / "writingbench_length_dev.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    bench = [json.loads(line) for line in lines]
    rows = [{"query": b["query"], "criteria": b["checklist"], "id": b["index"],
             "target": [f"draft {k} for {b['index']}" for k in range(3)], "reference_scores": [2, 5, 8]}
            for b in bench]
    build_dataset(rows, tmp_path)
    df = pd.read_parquet(tmp_path / "train.parquet")
    for b, rm in zip(bench, df["reward_model"], strict=True):
        gt = rm["ground_truth"]
        assert gt["prompt"] == b["query"]
        assert json.loads(gt["criteria"]) == b["checklist"]
        rendered = format_criteria(gt["criteria"])
        assert rendered.count("\n") + 1 == len(b["checklist"])
        for item in b["checklist"]:
            assert f"- {item['name']}: " in rendered
    assert check_dataset(tmp_path) == []
