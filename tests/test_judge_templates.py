"""Judge templates: editable files, validated at load, with literal braces and single-pass substitution."""

from __future__ import annotations

import asyncio

import pytest

from writing_rl.judge import PairwiseJudge, TemplateError
from writing_rl.judge.templates import PROMPTS_DIR, load_template
from writing_rl.testing.fake_judge import Reply


def write(tmp_path, text: str, name: str = "t.txt"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_packaged_templates_load():
    assert load_template().slots == {"question", "answer_a", "answer_b"}
    assert load_template(criteria=True).slots == {"question", "answer_a", "answer_b", "criteria"}
    assert (PROMPTS_DIR / "pairwise.txt").is_file()


def test_literal_braces_and_escapes_render(tmp_path):
    t = load_template(write(tmp_path, 'Q={question} json={"k": [1, 2]} {{answer_a}} {answer_a} {answer_b} { x }'))
    out = t.render(question="q", answer_a="AA", answer_b="BB")
    assert out == 'Q=q json={"k": [1, 2]} {answer_a} AA BB { x }'


def test_substitution_is_single_pass(tmp_path):
    t = load_template(write(tmp_path, "{question}|{answer_a}|{answer_b}"))
    assert t.render(question="{answer_b}", answer_a="a", answer_b="b") == "{answer_b}|a|b"


def test_missing_placeholder_is_rejected_with_file_name(tmp_path):
    p = write(tmp_path, "{question} {answer_a}")
    with pytest.raises(TemplateError, match=r"t\.txt.*\{answer_b\}"):
        load_template(p)


def test_unknown_placeholder_is_rejected(tmp_path):
    p = write(tmp_path, "{question} {answer_a} {answer_b} {answr_c}")
    with pytest.raises(TemplateError, match=r"unknown placeholder.*\{answr_c\}"):
        load_template(p)


def test_criteria_template_requires_criteria(tmp_path):
    with pytest.raises(TemplateError, match=r"\{criteria\}"):
        load_template(write(tmp_path, "{question} {answer_a} {answer_b}"), criteria=True)


def test_non_utf8_template_names_the_file(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("{question} {answer_a} {answer_b} caf\xe9".encode("latin-1"))
    with pytest.raises(TemplateError, match="latin1.txt is not valid UTF-8"):
        load_template(p)


def test_user_template_reaches_the_judge(tmp_path, judge_server, fast_settings):
    p = write(tmp_path, "CUSTOM {question}\n{answer_a}\n{answer_b}\nEnd with VERDICT: A|B|TIE")
    judge_server.script = lambda req: Reply(text="VERDICT: A")
    j = asyncio.run(PairwiseJudge(fast_settings.replace(template=str(p))).compare("q?", "ref", "resp"))
    assert j.outcome == "loss"
    assert judge_server.records[0].prompt.startswith("CUSTOM q?")
