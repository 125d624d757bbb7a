"""Selection building blocks without a server: p and ranking, strict score parsing, criteria from a
real WritingBench row, templates, models file and input validation, caches, ladders, budget."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from writing_rl.atomic import atomic_write_text
from writing_rl.calls.runner import Budget
from writing_rl.calls.scores import ScoreParseError, parse_scores
from writing_rl.judge.settings import JudgeSettings
from writing_rl.selection.emit import ladder
from writing_rl.selection.inputs import load_instructions
from writing_rl.selection.models import ModelSpec, SelectionError, load_models
from writing_rl.selection.pipeline import cache_at
from writing_rl.selection.score import (
    PointwiseScorer,
    criteria_dimensions,
    load_score_templates,
)
from writing_rl.selection.select import Candidate, rank

BASE = JudgeSettings(model="judge", base_url="http://127.0.0.1:9/v1")


def cand(id_: str, pos: int, policy: float, **comps: float) -> Candidate:
    return Candidate(id_, pos, policy, dict(comps))


# ---------------------------------------------------------------------------------------- p and ranking
def test_p_filter_and_rank_on_a_hand_checked_example() -> None:
    cands = [
        cand("i1", 0, 4.0, a=7.0, b=5.0),  # best 7 (a), p = 3
        cand("i2", 1, 6.0, a=6.5, b=8.0),  # best 8 (b), p = 2
        cand("i3", 2, 2.0, a=3.0, b=4.0),  # best 4 < 5: too hard, although p = 2
        cand("i5", 3, 3.0, a=6.0, b=5.0),  # p = 3, ties with i1; best 6 < 7, so after i1
        cand("i6", 4, 7.0, a=7.0, b=9.0),  # p = 2, ties with i2; best 9 > 8, so before i2
        cand("i7", 5, 8.0, a=7.5, b=6.0),  # p = -0.5: policy already better
    ]
    sel = rank(cands, k=3, min_best_score=5.0)
    assert [(c.id, c.p) for c in sel.ranked] == [("i1", 3.0), ("i5", 3.0), ("i6", 2.0), ("i2", 2.0), ("i7", -0.5)]
    assert [c.id for c in sel.selected] == ["i1", "i5", "i6"]
    assert [(d.id, d.reason) for d in sel.dropped] == [("i3", "too_hard")]
    assert "4.00 (b) < --min-best-score 5" in sel.dropped[0].details[0]
    assert cands[0].best_model == "a" and cands[1].best_model == "b"
    # a threshold right at a best score keeps it; one above drops it
    assert [c.id for c in rank(cands, 10, 4.0).ranked].count("i3") == 1
    assert [c.id for c in rank(cands, 10, 7.6).ranked] == ["i6", "i2"]


def test_float_noise_cannot_break_a_tie() -> None:
    # means of integers: 7.2 - 6.4 is 0.8000000000000007 in floating point, 5.8 - 5.0 is 0.7999999999999998
    x = cand("x", 1, 6.4, a=7.2)
    y = cand("y", 0, 5.0, a=5.8)
    assert x.p == y.p == 0.8
    assert [c.id for c in rank([x, y], 2, 0).ranked] == ["x", "y"]  # tie on p -> higher best wins
    z = cand("z", 0, 6.4, a=7.2)
    assert [c.id for c in rank([x, z], 2, 0).ranked] == ["z", "x"]  # full tie -> input order


# ---------------------------------------------------------------------------------------- parsing
KEYS = ["c1", "c2", "c3"]


@pytest.mark.parametrize("reply, expected", [
    ('Good.\n{"scores": {"c1": 7, "c2": 8, "c3": 6}}', {"c1": 7, "c2": 8, "c3": 6}),
    ('```json\n{"scores": {"c1": 1, "c2": 10, "c3": 5}}\n```', {"c1": 1, "c2": 10, "c3": 5}),
    # a draft then a final object: the last one counts
    ('{"scores": {"c1": 2, "c2": 2, "c3": 2}} on reflection\n{"scores": {"c1": 9, "c2": 9, "c3": 8}}',
     {"c1": 9, "c2": 9, "c3": 8}),
    # scores only inside the judge's own reasoning do not count
    ('<think>{"scores": {"c1": 9, "c2": 9, "c3": 9}}</think>\n{"scores": {"c1": 3, "c2": 4, "c3": 5}}',
     {"c1": 3, "c2": 4, "c3": 5}),
])
def test_parse_scores_accepts_well_formed_replies(reply: str, expected: dict) -> None:
    assert parse_scores(reply, KEYS, envelope="scores") == expected


@pytest.mark.parametrize("reply, reason", [
    ("I would give it an 8.", "no JSON object"),
    ('<think>{"scores": {"c1": 9, "c2": 9, "c3": 9}}</think> I cannot decide.', "no JSON object"),
    ('{"scores": {"c1": 7, "c2": 8}}', "missing key(s) ['c3']"),
    ('{"scores": {"c1": 7, "c2": 8, "c3": 6, "c4": 5}}', "unexpected key(s) ['c4']"),
    ('{"scores": {"c1": 7.5, "c2": 8, "c3": 6}}', "not a whole number"),
    ('{"scores": {"c1": "7", "c2": 8, "c3": 6}}', "not a whole number"),
    ('{"scores": {"c1": true, "c2": 8, "c3": 6}}', "not a whole number"),
    ('{"scores": {"c1": 0, "c2": 8, "c3": 6}}', "outside 1..10"),
    ('{"scores": {"c1": 11, "c2": 8, "c3": 6}}', "outside 1..10"),
    ('{"scores": [7, 8, 6]}', "not an object"),
    ('{"scores": {"c1": 7, "c2": 8, "c3": 6}', "no JSON object"),  # cut short
    (None, "no JSON object"),
])
def test_parse_scores_is_strict(reply: str | None, reason: str) -> None:
    with pytest.raises(ScoreParseError) as e:
        parse_scores(reply, KEYS, envelope="scores")
    assert reason in str(e.value)


# ---------------------------------------------------------------------------------------- criteria and templates
def test_criteria_come_from_a_real_writingbench_row(shared_data: Path) -> None:
    src = shared_data / "writingbench_length_dev.jsonl"
    instructions = load_instructions(src)
    first = json.loads(src.read_text(encoding="utf-8").splitlines()[0])
    instr = instructions[0]
    assert instr.id == str(first["index"]) and instr.prompt == first["query"]
    assert instr.criteria == first["checklist"] and len(first["checklist"]) == 5
    scorer = PointwiseScorer(load_score_templates(), "judge", 48000)
    dims = scorer.dimensions(instr.criteria)
    assert [d.key for d in dims] == ["c1", "c2", "c3", "c4", "c5"]
    assert [d.title for d in dims] == [c["name"] for c in first["checklist"]]
    prompt = scorer.render(instr.prompt, "A response.", instr.criteria)
    for c in first["checklist"]:
        assert c["name"] in prompt and c["criteria_description"] in prompt
        for band in ("1-2", "3-4", "5-6", "7-8", "9-10"):
            assert f"    {band}: {c[band]}" in prompt
    assert '{"scores": {"c1": N, "c2": N, "c3": N, "c4": N, "c5": N}}' in prompt
    assert "against criteria written" in prompt  # the criteria template, not the default one
    assert all(i.criteria is not None for i in instructions) and len(instructions) == 150


def test_default_dimensions_come_from_the_template_file(tmp_path: Path) -> None:
    t = load_score_templates()
    keys = [d.key for d in t.dimensions]
    assert len(keys) >= 3
    prompt = PointwiseScorer(t, "judge", 48000).render("Write a limerick.", "There once was...", None)
    assert "@dimension" not in prompt
    assert '{"scores": {' + ", ".join(f'"{k}": N' for k in keys) + "}}" in prompt
    assert criteria_dimensions(["be brief", "be kind"])[1].description == "be kind"
    assert [d.key for d in criteria_dimensions("Keep it under 100 words.")] == ["c1"]

    own = tmp_path / "mine.txt"
    own.write_text("@dimension humour: is it funny?\n@dimension rhyme: does it scan?\n"
                   "Q: {question}\nA: {answer}\n{dimensions}\n{reply_format}\n", encoding="utf-8")
    mine = load_score_templates(own)
    assert [d.key for d in mine.dimensions] == ["humour", "rhyme"]
    assert mine.fingerprint != t.fingerprint  # editing the template invalidates cached scores


@pytest.mark.parametrize("text, crit, message", [
    ("Q: {question}\nA: {answer}\n{dimensions}\n{reply_format}\n", False, "define at least one '@dimension"),
    ("@dim humour: x\n{question}{answer}{dimensions}{reply_format}", False, "must read '@dimension key: description'"),
    ("@dimension a: x\n@dimension a: y\n{question}{answer}{dimensions}{reply_format}", False, "defined twice"),
    ("@dimension a: x\n{question}{answer}{dimensions}", False, "{reply_format}"),
    ("@dimension a: x\n{question}{answer}{dimensions}{reply_format}{ansewr}", False, "{ansewr}"),
    ("@dimension a: x\n{question}{answer}{dimensions}{reply_format}", True, "remove its @dimension lines"),
])
def test_template_errors_name_the_file(tmp_path: Path, text: str, crit: bool, message: str) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SelectionError) as e:
        load_score_templates(None, bad) if crit else load_score_templates(bad)
    assert message in str(e.value) and str(bad) in str(e.value)


# ---------------------------------------------------------------------------------------- models file
GOOD = """
policy: {name: pol, model: Qwen/Qwen2.5-7B-Instruct, base_url: "http://127.0.0.1:8000/v1", temperature: 0.8}
competitors:
  - {name: big, model: qwen-max, api_key_env: MY_DS_KEY, price_per_1k_prompt: 0.002}
  - {model: gpt-4o, max_tokens: 1000, rpm: 100}
judge: {model: judge-x, base_url: "http://127.0.0.1:8002/v1", max_tokens: 900}
"""


def test_models_file_is_read_with_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(GOOD, encoding="utf-8")
    m = load_models(f, BASE, concurrency=7)
    assert [s.name for s in m.generators] == ["pol", "big", "gpt-4o"]
    pol, big, gpt = m.generators
    assert pol.settings.backend == "openai"  # a base_url means an OpenAI-compatible server, even for Qwen
    assert big.settings.backend == "dashscope" and big.settings.key_env == "MY_DS_KEY"
    assert gpt.settings.key_env == "OPENAI_API_KEY" and gpt.settings.rpm == 100 and gpt.settings.max_tokens == 1000
    assert pol.settings.temperature == 0.8 and gpt.settings.temperature == 0.7
    assert {s.settings.concurrency for s in m.generators} == {7}
    assert m.judge is not None and m.judge.settings.max_tokens == 900 and m.judge.settings.temperature == 0.0
    assert big.cost(1000, 0) == pytest.approx(0.002) and big.priced and not gpt.priced
    monkeypatch.setenv("MY_DS_KEY", "ds-secret-value")
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    assert big.settings.api_key() == "ds-secret-value"
    assert "ds-secret-value" not in repr(big) + json.dumps(big.settings.public_dict())


@pytest.mark.parametrize("doc, message", [
    ("policy: {model: a}\ncompetitors: [{model: b, api_key: sk-123}]",
     "competitors[0]: field 'api_key' is not allowed"),
    ("policy: {model: a, temprature: 1}\ncompetitors: [{model: b}]", "policy: unknown field(s) ['temprature']"),
    ("policy: {name: a}\ncompetitors: [{model: b}]", "policy: field 'model' is required"),
    ("policy: {model: a}\ncompetitors: [{model: a}]", "same name 'a' as policy"),
    ("policy: {model: a}\ncompetitors: [{model: b, backend: vllm}]", "backend 'vllm' is not one of"),
    ("policy: {model: a}\ncompetitors: [{model: b, temperature: -1}]", "field 'temperature' must be >= 0"),
    ("policy: {model: a}\ncompetitors: [{model: b, max_tokens: many}]", "field 'max_tokens' must be int"),
    ("policy: {model: a}\ncompetitors: [{model: b, api_key_env: 'sk-abc'}]", "must be an environment variable name"),
    ("policy: {model: a}\ncompetitors: []", "'competitors' must be a non-empty list"),
    ("competitors: [{model: b}]", "'policy' is required"),
    ("policy: {model: a}\ncompetitors: [{model: b}]\njudges: {}", "unknown top-level key(s) ['judges']"),
    ("policy: {model: a\ncompetitors: [", "is not valid YAML at line"),
    ("- just a list", "must be a mapping"),
])
def test_models_file_errors_name_the_entry_and_field(tmp_path: Path, doc: str, message: str) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(doc, encoding="utf-8")
    with pytest.raises(SelectionError) as e:
        load_models(f, BASE)
    assert message in str(e.value) and str(f) in str(e.value)
    assert "sk-123" not in str(e.value)


# ---------------------------------------------------------------------------------------- inputs
def test_inputs_ids_and_criteria(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    rows = [{"index": 7, "query": "Q seven", "checklist": [{"name": "N", "criteria_description": "D"}]},
            {"id": "x", "prompt": "Q x", "criteria": '["be concise", "be kind"]'},
            {"prompt": "Q three", "criteria": "plain text criteria"}]
    f.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n\n" + json.dumps(rows[2]) + "\n", encoding="utf-8")
    got = load_instructions(f)
    assert [(i.id, i.source_id, i.position) for i in got] == [("7", 7, 0), ("x", "x", 1), ("4", 4, 2)]
    assert got[1].criteria == ["be concise", "be kind"] and got[2].criteria == "plain text criteria"


@pytest.mark.parametrize("lines, message", [
    (['{"prompt": "a"}', "{oops"], "line 2: not valid JSON"),
    (['{"prompt": "a"}', '{"text": "b"}'], "line 2: no 'prompt' or 'query' field"),
    (['{"id": 1, "prompt": "a"}', '{"index": 1, "prompt": "b"}'], "line 2: id '1' also used at"),
    (['{"prompt": "a", "checklist": ["x"], "criteria": "y"}'], "has both 'checklist' and 'criteria'"),
    (['{"prompt": "a", "criteria": [{"weight": 2}]}'], "criteria[0] needs"),
    (['{"prompt": "a", "id": [1]}'], "'id'/'index' must be"),
    ([""], "has no rows"),
])
def test_input_errors_name_the_line(tmp_path: Path, lines: list[str], message: str) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SelectionError, match=None) as e:
        load_instructions(f)
    assert message in str(e.value) and str(f) in str(e.value)


# ---------------------------------------------------------------------------------------- caches and files
def test_cache_tolerates_a_torn_last_line_and_repairs_it(tmp_path: Path) -> None:
    path = tmp_path / "responses.jsonl"
    good = [{"id": "1", "model": "a", "ok": True}, {"id": "1", "model": "b", "ok": False},
            {"id": "1", "model": "b", "ok": True}]
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in good) + b'{"id": "2", "model": "a", "ok"')
    cache = cache_at(path)
    assert len(cache.entries) == 2 and cache.lines == 3 and cache.torn_tail
    assert cache.get("1", "b")["ok"] is True  # the last line for a key wins
    with cache:
        cache.append({"id": "2", "model": "a", "ok": True, "text": "née 名"})
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and all(json.loads(x) for x in lines)
    assert cache_at(path).get("2", "a")["text"] == "née 名"

    # a complete last line without its newline is kept, and the next append starts a new line
    path.write_text(json.dumps(good[0]), encoding="utf-8")
    with cache_at(path) as c2:
        c2.append(good[2])
    assert len(cache_at(path).entries) == 2

    # damage anywhere else is reported, not skipped
    path.write_text(json.dumps(good[0]) + "\nnot json\n" + json.dumps(good[1]) + "\n", encoding="utf-8")
    with pytest.raises(SelectionError, match=r"responses.jsonl line 2: not a valid record"):
        cache_at(path)


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "selected.jsonl"
    atomic_write_text(target, "old\n")

    def killed(*a: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new\n" * 1000)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["selected.jsonl"]  # no temp file left behind


# ---------------------------------------------------------------------------------------- ladders and budget
def test_reference_ladder_orders_by_score_with_the_policy_first(tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("policy: {model: pol}\ncompetitors: [{model: a}, {model: b}, {model: c}, {model: d}]\n")
    models = load_models(f, BASE)
    cache = cache_at(tmp_path / "r.jsonl")
    for m in ("pol", "a", "b", "c", "d"):
        cache.entries[("q", m)] = {"id": "q", "model": m, "text": f"text of {m}"}
    c = cand("q", 0, 5.0, a=8.0, b=4.0, c=6.0, d=6.0)
    refs, scores, names, left_out = ladder(c, models, cache, keep_policy_reference=True)
    assert names == ["pol", "c", "d", "a"] and scores == [5.0, 6.0, 6.0, 8.0] and left_out == 1
    assert refs == ["text of pol", "text of c", "text of d", "text of a"]
    _, scores, names, left_out = ladder(c, models, cache, keep_policy_reference=False)
    assert names == ["b", "c", "d", "a"] and scores == [4.0, 6.0, 6.0, 8.0] and left_out == 0


def test_budget_reserves_before_calls_so_the_limit_holds() -> None:
    spec = ModelSpec("m", "competitor", None, price_per_1k_prompt=1.0, price_per_1k_completion=1.0)  # type: ignore[arg-type]
    b = Budget(max_cost=spec.cost(1000, 1000) * 2.5)
    est = spec.cost(1000, 1000)
    assert b.reserve(est) and b.reserve(est)  # two calls in flight fit
    assert not b.reserve(est) and "--max-cost" in (b.stopped or "")  # a third could exceed the limit
    b.settle(est, est / 2)
    assert not b.reserve(0.0)  # once stopped, stays stopped for this invocation
    calls = Budget(max_calls=2)
    assert calls.reserve(0) and calls.reserve(0) and not calls.reserve(0)
    assert calls.stopped == "--max-calls 2 reached"


def test_the_example_models_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "models.yaml"
    m = load_models(example, BASE)
    assert m.policy.settings.base_url and len(m.competitors) >= 2 and m.judge is not None
    assert {s.settings.backend for s in m.competitors} == {"openai", "dashscope"}
    assert "api_key:" not in example.read_text()
