"""LongBench-Write word count, length score and buckets against hand-computed values."""

from __future__ import annotations

import pytest

from writing_rl.eval.lengths import length_bucket, length_score
from writing_rl.textstats import count_words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("Hello world", 2),
        ("你好世界", 4),
        ("我爱 Python 编程", 5),  # 4 ideographs + 1 word
        ("我爱Python编程", 4),  # no boundary between an ideograph and a letter: the word is not counted
        ("Hello，世界！", 3),  # full-width punctuation is a boundary and is not counted
        ("don't stop", 3),  # don + t + stop
        ("an e-mail", 3),
        ("It costs 2024 dollars", 3),  # digits are never words
        ("abc123 snake_case café", 0),  # letters glued to digits, '_' or accented letters do not count
        ("㐀。，、《》", 0),  # CJK extension A and CJK punctuation are outside the counted range
        ("第1章 The Start\n第2章", 6),  # 第 章 第 章 + The + Start
    ],
)
def test_count_words_published_definition(text: str, expected: int) -> None:
    assert count_words(text) == expected


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (1000, 1000, 100.0),
        (1000, 2000, 100 * (1 - 1 / 3)),  # too long: y/x - 1 = 1, divided by 3
        (1000, 2500, 50.0),
        (1000, 4000, 0.0),
        (1000, 9000, 0.0),  # clipped at 0
        (1000, 800, 87.5),  # too short: x/y - 1 = 0.25, divided by 2
        (1000, 500, 50.0),
        (1000, 250, 0.0),
        (1000, 0, 0.0),  # empty output: 0 (the formula would divide by zero)
    ],
)
def test_length_score_hand_values(x: int, y: int, expected: float) -> None:
    assert length_score(x, y) == pytest.approx(expected)


def test_length_score_on_texts() -> None:
    zh = "春眠不觉晓处处闻"  # 8 characters for a required 10: 1 - (10/8 - 1)/2 = 0.875
    assert length_score(10, count_words(zh)) == pytest.approx(87.5)
    en = "one two three four five six"  # 6 words for a required 4: 1 - (6/4 - 1)/3
    assert length_score(4, count_words(en)) == pytest.approx(100 * (1 - 0.5 / 3))
    mixed = "我爱 Python 编程"  # exactly 5
    assert length_score(5, count_words(mixed)) == pytest.approx(100.0)


def test_length_score_rejects_bad_lengths() -> None:
    with pytest.raises(ValueError, match="required length"):
        length_score(0, 10)
    with pytest.raises(ValueError, match="negative"):
        length_score(10, -1)


@pytest.mark.parametrize(
    ("required", "bucket"),
    [(1, "<500"), (499, "<500"), (500, "500-2k"), (1999, "500-2k"), (2000, "2k-4k"), (3999, "2k-4k"),
     (4000, ">=4k"), (20000, ">=4k")],
)
def test_length_buckets(required: int, bucket: str) -> None:
    assert length_bucket(required) == bucket
