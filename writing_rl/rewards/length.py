"""Length reward: how well an answer's word count fits the length its instruction asks for.

Words are counted by :func:`writing_rl.textstats.count_words` (Chinese characters plus English
words, the LongBench-Write definition).

Where the target comes from, first rule that applies:

1. ``ground_truth["length_range"]``: ``[lower, upper]`` words; ``upper`` may be null (no upper bound).
2. ``ground_truth["length"]``: a number N, read as "about N": ``[N·(1-tolerance), N·(1+tolerance)]``.
3. A length phrase in the instruction, English or Chinese. When there are several, the one with
   the largest number wins (a whole piece is longer than its parts: "about 500 words per section,
   3000 words in total" means 3000; "title within 20 characters ... 800-1200 characters" means
   800-1200); equal numbers go to the earliest phrase. A prompt that names the length of a source
   text as well as of the answer ("summarize this 5000-word report in 300 words") is misread:
   give such rows a ``length`` or ``length_range`` in the ground truth.

   ================================  ==========================================================
   phrase                            target
   ================================  ==========================================================
   ``800-1000 words``, ``800 to      ``[800, 1000]``  (also ``–``, ``~``, ``到``, ``至``, and
   1,000 words``, ``800-1000字``     ``between 800 and 1000 words``; reversed bounds are swapped)
   ``at least / no less than / more  ``[N, no upper bound]``  (also ``不少于``, ``至少``, ``超过``,
   than / over / minimum of N        ``不低于``, ``N字以上``, ``N+ words``, ``N words or more``,
   words``                           ``N多字``)
   ``at most / no more than / up to  ``[0, N]``  (also ``不超过``, ``最多``, ``少于``, ``N字以内``,
   / under / within N words``        ``N字以下``, ``N words or less``, ``N words max``)
   ``about / around / approximately  ``[N·(1-tolerance), N·(1+tolerance)]``  (also ``约``,
   N words``, ``N字左右``            ``大约``, ``N字上下``, ``N words or so``)
   a bare ``N words``, ``N-word``,   the same as "about N"
   ``N 字``, ``N个字``
   ``word count ... N``,             the number after the phrase, with the qualifiers above
   ``字数 ... N``
   ================================  ==========================================================

   Numbers may be written ``2000``, ``2,000``, ``2k``, ``2.5k``, ``1.5万``, ``3千`` or in Chinese
   numerals (``三千``, ``两千五百``, ``三千五`` = 3500, ``一万``); a Chinese numeral must start
   with a digit character and contain 十/百/千/万, so that ``一字不差`` or ``十字路口`` is no target.

The score is 1 inside ``[lower, upper]``; outside, with ``d`` the distance to the nearest bound
relative to that bound (``(lower - y) / lower`` below, ``(y - upper) / upper`` above), it is
``max(0, 1 - d / falloff)``: with ``falloff=0.5`` an answer half as long as the lower bound, or
1.5 times the upper bound, scores 0.  With no target the score is ``missing`` (default 1.0, which
in ``group-normalized`` mode contributes nothing, as any constant does).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ..textstats import count_words
from .base import ComponentResult, RewardConfigError


@dataclass(frozen=True)
class LengthTarget:
    """A word-count range; ``upper`` None means no upper bound. ``source`` says where it came from."""

    lower: int
    upper: int | None
    source: str

    def distance(self, words: int) -> float:
        """0 inside the range, else the relative distance to the nearest bound."""
        if words < self.lower:
            return (self.lower - words) / self.lower
        if self.upper is not None and words > self.upper:
            return (words - self.upper) / self.upper
        return 0.0


_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?(?:\s?k(?![a-z])|[万千])?|[零〇一二两三四五六七八九十百千万]+)"
_SEP = r"\s*(?:-|–|—|~|～|〜|\bto\b|到|至)\s*"
_UNIT = r"(?P<plus>\s*\+)?\s*(?P<more>[多余])?\s*(?:-?\s*words?\b|个?汉?字(?![母节]))"
_PATTERNS = [
    re.compile(rf"(?<![a-z0-9.,])(?P<a>{_NUM})(?:{_SEP}(?P<b>{_NUM}))?{_UNIT}", re.I),
    re.compile(rf"(?<![a-z])between\s+(?P<a>{_NUM})\s+and\s+(?P<b>{_NUM}){_UNIT}", re.I),
    re.compile(rf"(?:word\s*count|字数)(?P<mid>[^0-9\n。！？!?]{{0,16}}?)(?P<a>{_NUM})(?:{_SEP}(?P<b>{_NUM}))?"
               r"(?P<plus>\s*\+)?", re.I),
]
_LOWER = (r"at\s+least|no\s+(?:less|fewer)\s+than|not\s+(?:less|fewer)\s+than|(?:a\s+)?minimum(?:\s+of)?|"
          r"more\s+than|over|in\s+excess\s+of|exceeding|不少于|不低于|不小于|至少|最少|起码|超过|多于|大于|高于")
_UPPER = (r"at\s+most|no\s+more\s+than|not\s+more\s+than|not\s+exceeding|up\s+to|under|below|less\s+than|"
          r"fewer\s+than|(?:a\s+)?maximum(?:\s+of)?|within|不超过|不多于|不高于|不大于|最多|至多|少于|低于|小于")
_ABOUT = r"about|around|approximately|approx\.?|roughly|circa|close\s+to|nearly|约为|约|大约|大概|差不多"
_PREFIX_Q = re.compile(rf"(?<![a-z])(?:(?P<lower>{_LOWER})|(?P<upper>{_UPPER})|(?P<about>{_ABOUT}))\s*[:：]?\s*$", re.I)
_SUFFIX_Q = re.compile(
    r"^\s*(?:个?字)?\s*(?:(?P<lower>or\s+more|or\s+longer|at\s+(?:the\s+)?(?:least|minimum)|minimum|以上|及以上|或以上)"
    r"|(?P<upper>or\s+(?:less|fewer)|or\s+shorter|at\s+(?:the\s+)?(?:most|maximum)|max(?:imum)?\b|以内|以下|之内)"
    r"|(?P<about>or\s+so|左右|上下))",
    re.I,
)


def parse_number(text: str) -> int | None:
    """Parse ``2000``, ``2,000``, ``2k``, ``2.5k``, ``1.5万``, ``3千`` or Chinese numerals; None if unusable."""
    s = re.sub(r"\s+", "", text).lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|万|千)?", s.replace(",", "")) if s[:1].isdigit() else None
    if m:
        value = float(m.group(1)) * {"k": 1000, "万": 10000, "千": 1000, None: 1}[m.group(2)]
        return round(value) if value >= 1 else None
    if not s or s[0] not in _CN_DIGIT or not any(c in s for c in "十百千万"):
        return None
    total = section = 0
    digit: int | None = None
    last_unit, after_zero = 1, False
    for ch in s:
        if ch in _CN_DIGIT:
            if digit not in (None, 0):
                return None  # two digits in a row ("二二") is not a number
            after_zero = after_zero or (digit == 0)
            digit = _CN_DIGIT[ch]
        elif ch in _CN_UNIT:
            section += (1 if digit is None else digit) * _CN_UNIT[ch]
            digit, last_unit, after_zero = None, _CN_UNIT[ch], False
        else:  # 万
            total += (section + (digit or 0)) * 10000
            section, digit, last_unit, after_zero = 0, None, 10000, False
    if digit:  # a trailing digit: "三千五" is 3500, "三百零五" is 305
        section += digit * (1 if after_zero or last_unit < 100 else last_unit // 10)
    value = total + section
    return value or None


def _qualifier(m: re.Match[str], text: str) -> str | None:
    mid = m.groupdict().get("mid")
    prefix = mid if mid is not None else text[max(0, m.start() - 30): m.start()]
    if m.group("plus") or m.groupdict().get("more"):
        return "lower"
    for found in (_PREFIX_Q.search(prefix), _SUFFIX_Q.match(text[m.end(): m.end() + 16])):
        if found:
            return next(k for k in ("lower", "upper", "about") if found.group(k))
    return None


def _target(m: re.Match[str], text: str, tolerance: float) -> tuple[int, LengthTarget] | None:
    """(the phrase's largest number, its target), or None when a number does not parse."""
    a = parse_number(m.group("a"))
    b = parse_number(m.group("b")) if m.group("b") else None
    if a is None or (m.group("b") and b is None):
        return None
    kind = "range" if b is not None else (_qualifier(m, text) or "about")
    phrase = f"instruction: {m.group(0).strip()!r} ({kind})"
    if b is not None:
        return max(a, b), LengthTarget(min(a, b), max(a, b), phrase)
    if kind == "lower":
        return a, LengthTarget(a, None, phrase)
    if kind == "upper":
        return a, LengthTarget(0, a, phrase)
    return a, _about(a, tolerance, phrase)


def _from_instruction(text: str, tolerance: float) -> LengthTarget | None:
    found = [(t, m.start()) for p in _PATTERNS for m in p.finditer(text) if (t := _target(m, text, tolerance))]
    if not found:
        return None
    (_, target), _ = max(found, key=lambda f: (f[0][0], -f[1]))  # largest number, then earliest phrase
    return target


def _about(n: float, tolerance: float, source: str) -> LengthTarget:
    return LengthTarget(max(1, round(n * (1 - tolerance))), max(1, round(n * (1 + tolerance))), source)


def _positive(value: Any, what: str, allow_zero: bool = False) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        kind = "non-negative" if allow_zero else "positive"
        raise RewardConfigError(f"ground_truth {what} must be a {kind} number of words, got {value!r}")
    return number


def _ground_truth(ground_truth: Any) -> dict[str, Any]:
    if ground_truth is None:
        return {}
    if isinstance(ground_truth, str):
        try:
            ground_truth = json.loads(ground_truth)
        except json.JSONDecodeError:
            return {}  # a plain-text ground truth (a reference) carries no length field
    return ground_truth if isinstance(ground_truth, dict) else {}


def length_target(instruction: str | None, ground_truth: Any = None, *, tolerance: float = 0.2) -> LengthTarget | None:
    """The target range (see the module docstring for the rules), or None when none is given."""
    gt = _ground_truth(ground_truth)
    rng = gt.get("length_range")
    if rng is not None:
        if not isinstance(rng, (list, tuple)) or len(rng) != 2:
            raise RewardConfigError(f"ground_truth length_range must be [lower, upper], got {rng!r}")
        lo = _positive(rng[0], "length_range lower bound", allow_zero=True)
        hi = None if rng[1] is None else _positive(rng[1], "length_range upper bound")
        if hi is not None and hi < lo:
            raise RewardConfigError(f"ground_truth length_range {list(rng)} has lower > upper; swap them")
        return LengthTarget(round(lo), None if hi is None else round(hi), "ground_truth length_range")
    if gt.get("length") is not None:
        return _about(_positive(gt["length"], "length"), tolerance, "ground_truth length")
    text = instruction if instruction is not None else gt.get("prompt")
    return _from_instruction(text, tolerance) if isinstance(text, str) else None


def length_reward(
    answer: str,
    instruction: str | None,
    ground_truth: Any = None,
    *,
    falloff: float = 0.5,
    tolerance: float = 0.2,
    missing: float = 1.0,
) -> ComponentResult:
    """Score ``answer``'s word count against the target (1 inside, linear falloff to 0 outside)."""
    if falloff <= 0:
        raise RewardConfigError(f"length falloff must be > 0, got {falloff}")
    if not 0 <= tolerance < 1:
        raise RewardConfigError(f"length tolerance must be in [0, 1), got {tolerance}")
    words = count_words(answer)
    target = length_target(instruction, ground_truth, tolerance=tolerance)
    if target is None:
        return ComponentResult(missing, {"words": words, "target": None, "reason": "no length target"})
    d = target.distance(words)
    return ComponentResult(
        max(0.0, 1.0 - d / falloff),
        {"words": words, "target": [target.lower, target.upper], "source": target.source, "distance": round(d, 4)},
    )
