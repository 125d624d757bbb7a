"""Length reward: targets from ground truth and from English/Chinese instruction phrases, and the score shape."""

from __future__ import annotations

import json

import pytest

from writing_rl.rewards import RewardConfigError, length_reward, length_target, parse_number


@pytest.mark.parametrize(
    ("instruction", "lower", "upper", "kind"),
    [
        ("Write about 2000 words on river towns.", 1600, 2400, "about"),
        ("Write an essay of around 1,500 words.", 1200, 1800, "about"),
        ("Approximately 2k words, please.", 1600, 2400, "about"),
        ("A 500-word essay on bees", 400, 600, "about"),
        ("Write a 2.5K-word report", 2000, 3000, "about"),
        ("Keep it to 1000 words or so.", 800, 1200, "about"),
        ("Write 800-1000 words about tides.", 800, 1000, "range"),
        ("Write 800 to 1,000 words.", 800, 1000, "range"),
        ("Somewhere between 600 and 900 words.", 600, 900, "range"),
        ("Use 1200–900 words", 900, 1200, "range"),
        ("Write at least 1500 words.", 1500, None, "lower"),
        ("It must be no less than 700 words.", 700, None, "lower"),
        ("Write 1000 words or more.", 1000, None, "lower"),
        ("A 2000+ words story", 2000, None, "lower"),
        ("word count of at least 1200", 1200, None, "lower"),
        ("Answer in no more than 300 words.", 0, 300, "upper"),
        ("Summarize it in under 250 words.", 0, 250, "upper"),
        ("Write a blurb, 120 words max.", 0, 120, "upper"),
        ("写一篇3000字左右的散文。", 2400, 3600, "about"),
        ("请写约1.5万字的小说。", 12000, 18000, "about"),
        ("写一篇三千字的文章", 2400, 3600, "about"),
        ("写两千五百字", 2000, 3000, "about"),
        ("写三千五字的报告", 2800, 4200, "about"),
        ("正文3000 字", 2400, 3600, "about"),
        ("字数：1500字上下", 1200, 1800, "about"),
        ("写一篇不少于2000字的文章", 2000, None, "lower"),
        ("要求2000字以上。", 2000, None, "lower"),
        ("写3000多字的游记", 3000, None, "lower"),
        ("字数不少于三千", 3000, None, "lower"),
        ("篇幅不超过800字。", 0, 800, "upper"),
        ("控制在3000字以内", 0, 3000, "upper"),
        ("800-1000字的短评", 800, 1000, "range"),
        ("写八百到一千字", 800, 1000, "range"),
        ("写2000至3000字的综述", 2000, 3000, "range"),
    ],
)
def test_instruction_phrases(instruction: str, lower: int, upper: int | None, kind: str) -> None:
    target = length_target(instruction, None)
    assert target is not None, instruction
    assert (target.lower, target.upper) == (lower, upper)
    assert target.source.startswith("instruction: ") and target.source.endswith(f"({kind})")


@pytest.mark.parametrize(
    "instruction",
    ["Write a poem about autumn.", "请一字不差地翻译下面的句子。", "描写一个十字路口的早晨", "Write 3 paragraphs.", ""],
)
def test_no_target_in_instruction(instruction: str) -> None:
    assert length_target(instruction, None) is None


@pytest.mark.parametrize(
    ("instruction", "lower", "upper"),
    [
        ("Four sections of about 500 words each, 2,000 words in total.", 1800, 2200),
        ("标题20字以内；正文800-1200字，分三段。", 800, 1200),
        ("写一篇1000-1200字的读后感，开头200字介绍背景。", 1000, 1200),
        ("Write 1500 words; the summary at the end should be 1500 words too.", 1350, 1650),
    ],
)
def test_the_largest_phrase_wins_and_tolerance_is_configurable(instruction: str, lower: int, upper: int) -> None:
    t = length_target(instruction, None, tolerance=0.1)
    assert (t.lower, t.upper) == (lower, upper)
    tie = length_target("At least 1500 words; a 1500-word draft is fine.", None)  # equal numbers: earliest
    assert (tie.lower, tie.upper) == (1500, None)


@pytest.mark.parametrize(
    ("text", "value"),
    [("2000", 2000), ("2,000", 2000), ("2k", 2000), ("2.5K", 2500), ("1.5万", 15000), ("3千", 3000),
     ("三百零五", 305), ("一万五", 15000), ("两千五百", 2500), ("二十五", 25), ("一", None), ("十五", None),
     ("二二百", None), ("0", None)],
)
def test_parse_number(text: str, value: int | None) -> None:
    assert parse_number(text) == value


def test_ground_truth_takes_priority_over_the_instruction() -> None:
    instr = "Write about 2000 words."
    t = length_target(instr, {"length_range": [500, 700]})
    assert (t.lower, t.upper, t.source) == (500, 700, "ground_truth length_range")
    t = length_target(instr, {"length_range": [500, None]})
    assert (t.lower, t.upper) == (500, None)
    t = length_target(instr, {"length": 1000})
    assert (t.lower, t.upper, t.source) == (800, 1200, "ground_truth length")
    # parquet may hand the ground truth back as JSON text; a plain-text ground truth has no length
    t = length_target(instr, json.dumps({"length": "1,000", "target": ["ref"]}))
    assert (t.lower, t.upper) == (800, 1200)
    assert (length_target(instr, "a reference text").lower, length_target(instr, None).upper) == (1600, 2400)
    # no instruction given: the ground truth's own prompt is read
    t = length_target(None, {"prompt": "写一篇800-1000字的短评", "target": ["x"]})
    assert (t.lower, t.upper) == (800, 1000)


@pytest.mark.parametrize(
    ("gt", "needle"),
    [
        ({"length_range": [900, 500]}, "lower > upper"),
        ({"length_range": [500]}, "must be [lower, upper]"),
        ({"length_range": "500-900"}, "must be [lower, upper]"),
        ({"length_range": [-5, 100]}, "length_range lower bound must be a non-negative"),
        ({"length_range": [0, 0]}, "length_range upper bound must be a positive"),
        ({"length": 0}, "ground_truth length must be a positive"),
        ({"length": "lots"}, "'lots'"),
        ({"length": True}, "True"),
        ({"length": float("nan")}, "nan"),
    ],
)
def test_bad_ground_truth_lengths_name_the_field(gt: dict, needle: str) -> None:
    with pytest.raises(RewardConfigError, match="ground_truth") as e:
        length_target("Write about 2000 words.", gt)
    assert needle in str(e.value)


def _words(n: int) -> str:
    return " ".join(["word"] * n)


@pytest.mark.parametrize(
    ("words", "score"),
    [(800, 1.0), (1000, 1.0), (900, 1.0), (600, 0.5), (400, 0.0), (0, 0.0), (1250, 0.5), (1500, 0.0), (2000, 0.0)],
)
def test_score_is_one_inside_and_falls_linearly_outside(words: int, score: float) -> None:
    r = length_reward(_words(words), "Write 800-1000 words.")
    assert r.score == pytest.approx(score)
    assert r.details["words"] == words and r.details["target"] == [800, 1000]


def test_falloff_distance_is_configurable() -> None:
    assert length_reward(_words(600), "Write 800-1000 words.", falloff=1.0).score == pytest.approx(0.75)
    assert length_reward(_words(1100), "Write 800-1000 words.", falloff=0.2).score == pytest.approx(0.5)
    assert length_reward(_words(10_000), "Write at least 1000 words.").score == 1.0
    assert length_reward(_words(350), "No more than 300 words.").score == pytest.approx(1 - (50 / 300) / 0.5)


def test_words_are_chinese_characters_plus_english_words() -> None:
    answer = "春天来了。Spring is here, and the river 醒了!" + " 2024"  # digits are not words
    r = length_reward(answer, None, {"length_range": [10, 12]})
    assert r.details["words"] == 4 + 6 + 2
    assert r.score == 1.0
    chinese = "山" * 2400
    assert length_reward(chinese, "写一篇3000字左右的散文").score == 1.0
    assert length_reward("山" * 1800, "写一篇3000字左右的散文").score == pytest.approx(1 - (600 / 2400) / 0.5)


def test_missing_target_scores_the_configured_value() -> None:
    r = length_reward("some text", "Write a poem.")
    assert r.score == 1.0 and r.details["target"] is None and "no length target" in r.details["reason"]
    assert length_reward("some text", "Write a poem.", missing=0.0).score == 0.0


@pytest.mark.parametrize(("kw", "needle"), [({"falloff": 0}, "falloff"), ({"tolerance": 1.0}, "tolerance")])
def test_bad_settings_raise(kw: dict, needle: str) -> None:
    with pytest.raises(RewardConfigError, match=needle):
        length_reward("x", "Write 100 words.", **kw)


def test_longbench_write_prompts_parse_to_their_declared_length(shared_data) -> None:
    rows = [json.loads(line) for line in (shared_data / "longbench_write_en.jsonl").read_text("utf-8").splitlines()]
    targets = [(row["length"], length_target(row["prompt"], None)) for row in rows]
    parsed = [(n, t) for n, t in targets if t is not None]
    assert len(parsed) >= 0.9 * len(rows)
    wrong = [(n, t) for n, t in parsed if not (t.lower <= n <= (t.upper if t.upper is not None else n))]
    assert not wrong
