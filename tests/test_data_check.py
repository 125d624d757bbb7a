"""`data check`: every problem is found and named by file, row and field; dict or JSON-text structs are accepted."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from writing_rl.data import DataError, Problem, build_dataset, check_dataset, load_ground_truths
from writing_rl.data.schema import SCHEMA, GroundTruth, GroundTruthError

GT = "reward_model.ground_truth"


def rows3() -> list[dict]:
    return [
        {"prompt": "Write a limerick about a cat.", "references": ["A cat.", "There once was a cat", "x" * 300],
         "reference_scores": [1, 5, 9], "criteria": ["Rhymes AABBA"]},
        {"prompt": "Write a thank-you note.", "references": ["Thanks.", "Thank you for the lovely scarf."]},
        {"prompt": "请写一句广告语。", "references": ["好。", "一口清甜，整个夏天。"], "reference_scores": [2, 7]},
    ]


def built(tmp_path: Path, test_size: int = 0) -> Path:
    build_dataset(rows3(), tmp_path, test_size=test_size, seed=1)
    return tmp_path


def rewrite(path: Path, mutate: Callable[[list[dict]], None], json_cols: tuple[str, ...] = ()) -> None:
    """Read a parquet file as dicts, change them, and write it back (``json_cols`` as JSON text)."""
    rows = pq.read_table(path).to_pylist()
    mutate(rows)
    for r in rows:
        for c in json_cols:
            r[c] = json.dumps(r[c], ensure_ascii=False)
    pq.write_table(pa.Table.from_pylist(rows), path)


def gt(row: dict) -> dict:
    return row["reward_model"]["ground_truth"]


def test_clean_dataset_has_no_problems(tmp_path):
    assert check_dataset(built(tmp_path, test_size=1)) == []


def test_json_text_structs_and_pandas_round_trip_are_accepted(tmp_path):
    import pandas as pd

    d = built(tmp_path)
    rewrite(d / "train.parquet", lambda rows: None, json_cols=("reward_model", "extra_info"))
    assert pq.read_schema(d / "train.parquet").field("reward_model").type == pa.string()
    assert check_dataset(d) == []
    gts = load_ground_truths(d)
    assert gts[0]["target"][0] == "A cat." and gts[2]["reference_scores"] == [2.0, 7.0]
    e = tmp_path / "pandas"
    e.mkdir()
    build_dataset(rows3(), e)
    pd.read_parquet(e / "train.parquet").to_parquet(e / "train.parquet")  # numpy arrays inside, written back
    assert check_dataset(e) == []


def _set(path: list, value) -> Callable[[list[dict]], None]:
    """Mutation: set rows[path[0]][path[1]]...[path[-1]] = value."""
    def mutate(rows: list[dict]) -> None:
        obj = rows
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return mutate


def _delete(path: list) -> Callable[[list[dict]], None]:
    def mutate(rows: list[dict]) -> None:
        obj = rows
        for k in path[:-1]:
            obj = obj[k]
        del obj[path[-1]]
    return mutate


RM = "reward_model"
# (name, mutation, json_cols, expected row, field, message part)
CASES = [
    ("empty prompt", _set([1, "prompt", 1, "content"], "  "), (), 1, "prompt[1].content", "empty prompt"),
    ("prompt not ending with user", _set([0, "prompt"], [{"role": "user", "content": "hi"},
                                                        {"role": "assistant", "content": "yo"}]),
     (), 0, "prompt", "must end with the user message"),
    ("bad role", _set([2, "prompt", 0, "role"], "narrator"), (), 2, "prompt[0].role", "must be one of"),
    ("content missing", _set([1, "prompt", 0, "content"], None), (), 1, "prompt[0].content",
     "must be text, got NoneType"),
    ("empty gt prompt", _set([2, RM, "ground_truth", "prompt"], ""), (), 2, f"{GT}.prompt", "empty prompt"),
    ("empty reference list", _set([1, RM, "ground_truth", "target"], []), (), 1, f"{GT}.target",
     "empty reference list"),
    ("empty reference", _set([0, RM, "ground_truth", "target", 1], ""), (), 0, f"{GT}.target[1]", "empty reference"),
    ("target is a string", _set([1, RM, "ground_truth", "target"], "one ref"), (RM,), 1, f"{GT}.target",
     "must be a list of reference texts"),
    ("missing target", _delete([2, RM, "ground_truth", "target"]), (RM,), 2, f"{GT}.target", "missing field"),
    ("missing ground truth", _delete([0, RM, "ground_truth"]), (RM,), 0, GT, "missing field"),
    ("unsorted references", _set([0, RM, "ground_truth", "reference_scores"], [1.0, 9.0, 5.0]), (), 0,
     f"{GT}.target", "not sorted by increasing quality: reference_scores[2]=5.0 < reference_scores[1]=9.0"),
    ("score count mismatch", _set([2, RM, "ground_truth", "reference_scores"], [1.0]), (), 2,
     f"{GT}.reference_scores", "1 scores for 2 references"),
    ("criteria not text", _set([0, RM, "ground_truth", "criteria"], ["a list"]), (RM,), 0, f"{GT}.criteria",
     "must be text or null"),
    ("style", _set([1, RM, "style"], "rule"), (), 1, "reward_model.style", "must be 'model'"),
    ("id not int", _set([1, RM, "ground_truth", "id"], "one"), (RM,), 1, f"{GT}.id", "must be an integer"),
    ("index differs", _set([2, "extra_info", "index"], 0), (), 2, "extra_info.index", f"0 differs from {GT}.id 2"),
    ("wrong split", _set([1, "extra_info", "split"], "test"), (), 1, "extra_info.split",
     "must be 'train' in train.parquet, got 'test'"),
    ("data_source empty", _set([0, "data_source"], ""), (), 0, "data_source", "non-empty string"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_problem_names_row_and_field(tmp_path, case):
    _, mutate, json_cols, row, field, message = case
    d = built(tmp_path)
    rewrite(d / "train.parquet", mutate, json_cols)
    problems = check_dataset(d)
    hits = [p for p in problems if p.file == "train.parquet" and p.row == row and p.field == field]
    assert hits, problems
    assert any(message in p.message and p.severity == "error" for p in hits), hits
    assert all(p.row == row for p in problems if p.row is not None), problems  # nothing blamed on clean rows


def test_missing_column_is_one_file_level_problem(tmp_path):
    d = built(tmp_path)
    pq.write_table(pq.read_table(d / "train.parquet").drop_columns(["ability"]), d / "train.parquet")
    assert check_dataset(d) == [Problem("train.parquet", None, "ability", "missing column", "error")]


def test_duplicate_and_non_contiguous_ids(tmp_path):
    d = built(tmp_path)

    def dup(rows):
        gt(rows[2])["id"] = 1
        rows[2]["extra_info"]["index"] = 1
    rewrite(d / "train.parquet", dup)
    problems = check_dataset(d)
    assert Problem("train.parquet", 2, f"{GT}.id", "duplicate id 1 (first at row 0)", "error") not in problems
    assert Problem("train.parquet", 2, f"{GT}.id", "duplicate id 1 (first at row 1)", "error") in problems
    assert any(p.row is None and "missing 2" in p.message for p in problems)

    def shift(rows):
        for r in rows:
            gt(r)["id"] += 1
            r["extra_info"]["index"] += 1
    build_dataset(rows3(), d)
    rewrite(d / "train.parquet", shift)
    problems = check_dataset(d)
    assert [(p.row, p.message) for p in problems] == [
        (None, "ids are not contiguous 0..2: missing 0"), (2, "id 3 is outside 0..2; ids must be 0..N-1")]


def test_long_reference_is_a_warning(tmp_path):
    d = built(tmp_path)
    problems = check_dataset(d, judge_max_chars=200)
    assert problems == [Problem("train.parquet", 0, f"{GT}.target[2]", problems[0].message, "warning")]
    assert "300 characters, over the judge budget of 200" in problems[0].message
    assert "truncated middle-out" in problems[0].message
    assert check_dataset(d, judge_max_chars=None) == []


def test_problems_in_test_split_name_the_test_file(tmp_path):
    d = built(tmp_path, test_size=1)
    rewrite(d / "test.parquet", _set([0, "extra_info", "split"], "train"))
    problems = check_dataset(d)
    assert [(p.file, p.row, p.field) for p in problems] == [("test.parquet", 0, "extra_info.split")]


def test_missing_or_unreadable_files(tmp_path):
    assert check_dataset(tmp_path)[0].message.startswith("missing in")
    (tmp_path / "train.parquet").write_bytes(b"not parquet at all")
    problems = check_dataset(tmp_path)
    assert len(problems) == 1 and "cannot be read as parquet" in problems[0].message
    with pytest.raises(DataError, match="does not exist"):
        check_dataset(tmp_path / "nope")
    with pytest.raises(DataError, match="does not exist; build it"):
        load_ground_truths(tmp_path, split="test")


def test_prompt_length_under_the_chat_template(tmp_path, tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    rows = rows3() + [{"prompt": "Write about the sea. " * 200, "references": ["Waves."]}]
    build_dataset(rows, tmp_path)
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    messages = pq.read_table(tmp_path / "train.parquet").to_pylist()[3]["prompt"]
    n_long = len(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
                 ["input_ids"])
    limit = n_long - 1
    problems = check_dataset(tmp_path, tokenizer_path=tiny_tokenizer_dir, max_prompt_length=limit)
    assert [(p.row, p.field) for p in problems] == [(3, "prompt")]
    assert problems[0].message.startswith(f"{n_long} tokens under the chat template, over --max-prompt-length {limit}")
    assert check_dataset(tmp_path, tokenizer_path=tiny_tokenizer_dir, max_prompt_length=n_long) == []

    with pytest.raises(DataError, match="go together"):
        check_dataset(tmp_path, tokenizer_path=tiny_tokenizer_dir)
    with pytest.raises(DataError, match="cannot load the tokenizer from"):
        check_dataset(tmp_path, tokenizer_path=str(tmp_path / "no-tokenizer"), max_prompt_length=10)


def test_load_ground_truths_maps_ids(tmp_path):
    d = built(tmp_path, test_size=1)
    train, test = load_ground_truths(d), load_ground_truths(d, "test")
    assert sorted(train) == [0, 1] and sorted(test) == [0]
    every = [g["prompt"] for g in [*train.values(), *test.values()]]
    assert sorted(every) == sorted(r["prompt"] for r in rows3())
    for g in train.values():
        assert isinstance(g["target"], list) and all(isinstance(t, str) for t in g["target"])
    rows = copy.deepcopy(pq.read_table(d / "train.parquet").to_pylist())
    gt(rows[1])["id"] = 0
    pq.write_table(pa.Table.from_pylist(rows), d / "train.parquet")
    with pytest.raises(DataError, match="row 1 repeats id 0"):
        load_ground_truths(d)


def test_structured_criteria_the_judge_cannot_render_are_an_error(tmp_path):
    """A row `data check` passes is a row training can read: criteria JSON is rendered as the judge would."""
    rows = [{"prompt": "Write a poem.", "references": ["a", "b"], "criteria": ["clear"]},
            {"prompt": "Write a story.", "references": ["c"]}]
    build_dataset(rows, tmp_path, system_prompt="none")
    table = pq.read_table(tmp_path / "train.parquet").to_pylist()
    table[0]["reward_model"]["ground_truth"]["criteria"] = "[\"clear\", 7]"
    pq.write_table(pa.Table.from_pylist(table, schema=SCHEMA), tmp_path / "train.parquet")
    problems = check_dataset(tmp_path)
    assert [(p.row, p.field) for p in problems] == [(0, "reward_model.ground_truth.criteria")]
    assert "criteria item 1 must be text or a checklist object, got int" in problems[0].message
    with pytest.raises(GroundTruthError, match=r"sample 0: reward_model\.ground_truth\.criteria: criteria item 1"):
        GroundTruth.parse(table[0]["reward_model"]["ground_truth"])
    assert GroundTruth.parse(table[1]["reward_model"]["ground_truth"]).target == ["c"]


def test_a_ground_truth_the_check_passes_is_one_training_can_read(monkeypatch) -> None:
    """Every problem is the check's own, then it defers to ``GroundTruth.parse``: no pass that training rejects."""
    from writing_rl.data import check as check_mod

    good = {"prompt": "Write.", "target": ["a", "b"], "id": 3, "criteria": None, "reference_scores": None}
    variants = [good, {**good, "target": []}, {**good, "target": ["a", 7]}, {**good, "prompt": "  "},
                {**good, "id": "3"}, {**good, "criteria": 5}, {**good, "criteria": "[{\"name\": 1}]"},
                {**good, "target": "one text"}, {**good, "reference_scores": [2, 1]}, json.dumps(good), 17]
    for gt in variants:
        errors: list[tuple[str, str]] = []
        check_mod._check_ground_truth(gt, lambda f, m, e=errors: e.append((f, m)), lambda f, m: None, None)
        if not errors:
            GroundTruth.parse(gt)  # must not raise

    def stricter(value, index=None):  # a rule only the type knows: the check must report it, with its field
        raise GroundTruthError(f"sample 3: {GT}.prompt must be in English", f"{GT}.prompt")

    monkeypatch.setattr(check_mod.GroundTruth, "parse", staticmethod(stricter))
    errors = []
    check_mod._check_ground_truth(good, lambda f, m: errors.append((f, m)), lambda f, m: None, None)
    assert errors == [(f"{GT}.prompt", f"sample 3: {GT}.prompt must be in English")]
