"""Text measures shared by rewards and evaluation: CJK character ranges and the word count.

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

The ranges are character-class bodies (for ``[...]`` in a regular expression); each names what it covers.
"""

from __future__ import annotations

import re

CJK_BASIC = "\u4e00-\u9fff"  # CJK Unified Ideographs, the block LongBench-Write counts
CJK_IDEOGRAPHS = "\u3400-\u4dbf" + CJK_BASIC + "\uf900-\ufaff"  # plus extension A and compatibility ideographs
CJK_SCRIPTS = "\u3040-\u30ff" + CJK_IDEOGRAPHS + "\uac00-\ud7af"  # plus kana and Hangul syllables

_CJK_WORD = re.compile(f"[{CJK_BASIC}]")
_EN_WORD = re.compile(r"\b[a-zA-Z]+\b")


def count_words(text: str) -> int:
    """Chinese characters plus English words, exactly as LongBench-Write counts (module docstring)."""
    return len(_CJK_WORD.findall(text)) + len(_EN_WORD.findall(text))
