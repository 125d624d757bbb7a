"""LongBench-Write length measure: the published word count, the length score S_l and length buckets.

Word count (the LongBench-Write definition, reproduced exactly):

* every character in U+4E00..U+9FFF (CJK Unified Ideographs, basic block) counts as one word;
* every match of the Python regular expression ``\\b[a-zA-Z]+\\b`` counts as one word. Python's
  ``\\b`` is Unicode-aware, so a run of ASCII letters counts only when the characters on both sides
  are not word characters (letters of any script, digits, ``_``). Consequences, kept on purpose so
  scores match the published ones: ``don't`` and ``e-mail`` are two words; digits are never words
  (``2024`` counts 0); ``abc123``, ``snake_case``, ``café`` and ``hello世界`` (no space before the
  ideographs) contribute no English word; ``Hello，世界`` (full-width comma) is 1 + 2 = 3.
  Punctuation, CJK punctuation and ideographs outside the basic block (extension A, U+3400..)
  are not counted.

Length score, with x the required length and y the output length:
S_l = 100·max(0, 1 − (y/x − 1)/3) when y > x, else 100·max(0, 1 − (x/y − 1)/2).
For y = 0 the second branch divides by zero; an empty output scores 0 (the limit of the formula).
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u4e00-\u9fff]")
_EN_WORD = re.compile(r"\b[a-zA-Z]+\b")

# Required-length buckets of the LongBench-Write paper: [lo, hi) in words.
BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("<500", 0, 500),
    ("500-2k", 500, 2000),
    ("2k-4k", 2000, 4000),
    (">=4k", 4000, float("inf")),
)


def count_words(text: str) -> int:
    """Chinese characters plus English words, exactly as LongBench-Write counts (module docstring)."""
    return len(_CJK.findall(text)) + len(_EN_WORD.findall(text))


def length_score(required: float, output: float) -> float:
    """S_l in [0, 100] for required length ``required`` (> 0) and output length ``output`` (>= 0)."""
    if required <= 0:
        raise ValueError(f"the required length must be positive, got {required}")
    if output < 0:
        raise ValueError(f"the output length cannot be negative, got {output}")
    if output == 0:
        return 0.0
    if output > required:
        return 100.0 * max(0.0, 1.0 - (output / required - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (required / output - 1.0) / 2.0)


def length_bucket(required: float) -> str:
    """The name of the required-length bucket: ``<500``, ``500-2k``, ``2k-4k`` or ``>=4k``."""
    for name, lo, hi in BUCKETS:
        if lo <= required < hi:
            return name
    raise ValueError(f"no bucket for required length {required}")
