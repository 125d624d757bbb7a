"""Repetition reward: padding an answer with repeated content must not pay.

Tokens are CJK ideographs (one token each) and runs of other letters/digits (lower-cased words).
Two shares of the answer's tokens are measured:

* ``ngram_share``: tokens covered by an n-gram that already occurred earlier in the answer
  (``n`` word tokens, or ``cjk_n`` tokens when at least half the tokens are CJK ideographs,
  since single characters repeat far more often than words);
* ``paragraph_share``: tokens in paragraphs (split at line breaks) that repeat an earlier paragraph
  word for word, ignoring case, punctuation and spacing (paragraphs shorter than ``n`` tokens,
  such as repeated headings, are ignored).

With ``rep = max(ngram_share, paragraph_share)``, the score is 1 up to ``free`` (the repetition
ordinary prose has: set phrases, names), falls linearly, and is 0 from ``cap`` on. An answer
with fewer tokens than the n-gram size has nothing to repeat and scores 1.

Defaults: in ordinary English prose of a few thousand words about 5% of the tokens sit in a
repeated 5-gram (set phrases, names), so ``free=0.1`` leaves honest writing at 1, while a text
padded to a third with copies of itself scores about 0.5.
"""

from __future__ import annotations

import re

from ..textstats import CJK_IDEOGRAPHS
from .base import ComponentResult, RewardConfigError

_CJK = CJK_IDEOGRAPHS
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")


def tokens(text: str) -> list[str]:
    """CJK ideographs one by one, other words lower-cased; punctuation and spacing dropped."""
    return [t.lower() for t in _TOKEN.findall(text)]


def repeated_ngram_share(toks: list[str], n: int) -> float:
    """Share of tokens inside an n-gram that occurred earlier (0 when there are fewer than n tokens)."""
    if len(toks) < n:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    covered, covered_until = 0, 0  # tokens [.., covered_until) are already counted
    for i in range(len(toks) - n + 1):
        gram = tuple(toks[i: i + n])
        if gram in seen:
            covered += i + n - max(i, covered_until)
            covered_until = i + n
        else:
            seen.add(gram)
    return covered / len(toks)


def duplicated_paragraph_share(text: str, min_tokens: int) -> float:
    """Share of tokens in paragraphs that repeat an earlier paragraph (normalized)."""
    paras = [tokens(p) for p in text.splitlines()]
    total = sum(len(p) for p in paras)
    seen: set[tuple[str, ...]] = set()
    dup = 0
    for p in paras:
        if len(p) < min_tokens:
            continue
        key = tuple(p)
        if key in seen:
            dup += len(p)
        seen.add(key)
    return dup / total if total else 0.0


def repetition_reward(
    answer: str, *, n: int = 5, cjk_n: int = 8, free: float = 0.1, cap: float = 0.5
) -> ComponentResult:
    """1 for no more repetition than ``free``, 0 from ``cap`` on (module docstring)."""
    if n < 1 or cjk_n < 1:
        raise RewardConfigError(f"repetition n-gram sizes must be >= 1, got n={n}, cjk_n={cjk_n}")
    if not 0 <= free < cap <= 1:
        raise RewardConfigError(f"repetition thresholds need 0 <= free < cap <= 1, got free={free}, cap={cap}")
    toks = tokens(answer)
    cjk = sum(1 for t in toks if _IS_CJK.match(t))
    size = cjk_n if toks and cjk * 2 >= len(toks) else n
    ngram = repeated_ngram_share(toks, size)
    para = duplicated_paragraph_share(answer, size)
    rep = max(ngram, para)
    score = 1.0 - min(1.0, max(0.0, rep - free) / (cap - free))
    details = {"tokens": len(toks), "n": size, "ngram_share": round(ngram, 4), "paragraph_share": round(para, 4)}
    return ComponentResult(score, details)
