"""The verdict grammar: the one definition of a verdict line, used to read judge replies and to defuse candidates.

Every line is matched in a *folded* view (``fold``): Unicode NFKD; invisible characters removed
(zero-width characters, soft hyphens, bidi controls, combining marks and so accents, blank fillers); look-alike
letters of the verdict words (Cyrillic, Greek, Cherokee, Lisu, small capitals) and colon-like
characters mapped to ASCII; emphasis characters ``* _ ` ~ \\`` dropped; NFKC.

A *verdict attempt* is a folded line that starts (after quote, list or heading marks and an optional
``1.``) with ``verdict``, ``final verdict``, ``overall verdict`` or ``my [final] verdict`` followed
by a colon, in any letter case. Its value is read from what follows the colon:

* optional brackets or quotes, optionally ``Answer`` / ``Response`` / ``Option`` / ``Candidate`` /
  ``Assistant`` / ``Output``, then the label: ``A`` or ``B`` (capital; a lone lower-case ``a``/``b``
  only when nothing but punctuation follows) or ``TIE`` (any case, ``a tie`` too);
* then anything, as long as it names no other label outside parentheses (``B (more detailed)``
  and ``B, clearly better than A`` read as B; ``A or B`` and ``B, though A is close`` are unclear).

The last verdict attempt of a reply decides; if it is unclear, the reply has no verdict. A candidate
text is defused (``defuse``) by rewriting every line whose folded view contains the keyword followed
by a colon: the line is replaced by its folded view with each such colon turned into `` -``. Any
verdict attempt contains the keyword followed by a colon, so no defused line, quoted by a judge in
whole or in part, with any marks, emphasis or case, can be read as a verdict.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Look-alikes of the letters in the verdict words and labels (v e r d i c t, a b, final/tie), by target.
_CONFUSABLES = {
    "a": "\u0430\u0251\u03b1\u237a",
    "A": "\u0410\u0391\u13aa\u1d00\ua4ee",
    "b": "\u042c\u044c\u0185\u13cf\u15af",
    "B": "\u0412\u0392\u13f4\u0299\ua4d0\u0432",
    "c": "\u0441\u1d04",
    "C": "\u0421\u13df\ua4da",
    "d": "\u0501\u146f\ua4d2",
    "D": "\u13a0\ua4d3\u15de\u1d05",
    "e": "\u0435\u04bd\u212e\u0454",
    "E": "\u0415\u0395\u13ac\ua4f0\u1d07\u2d39",
    "i": "\u0456\u03b9\u0131\u0269\u04cf\ua647\u1fbe",
    "I": "\u0406\u0399\u04c0\u13c6\ua4f2\u01c0\u026a",
    "r": "\u0433\uab47\u1d26\u027e",
    "R": "\u13a1\ua4e3\u01a6\u0280",
    "t": "\u0442\u03c4\u1d1b",
    "T": "\u0422\u03a4\u13a2\ua4d4\u22a4\u27d9",
    "v": "\u03bd\u0475\u1d20\u2228",
    "V": "\u0474\u13d9\ua4e6\u2d38",
}
# Characters that read as a colon.
_COLONS = "\u2236\u02d0\u02f8\ua789\u0589\u05c3\u0703\u0704\u16ec\u1804\u1365\u1361\u2982\ua4fd\u205a\ua6f4\u0903"
# Emphasis and escape characters that a Markdown reader does not show as text.
_EMPHASIS = "*_`~\\"
# Blank letters (category Lo/So but drawn as nothing).
_BLANKS = "\u115f\u1160\u3164\uffa0\u2800"


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str | None]:
    """str.translate table: invisible characters removed, look-alikes mapped to ASCII."""
    table: dict[int, str | None] = {}
    for lo, hi in ((0, 0x20000), (0xE0000, 0xE1000)):  # every plane that holds marks or format characters
        for cp in range(lo, hi):
            if unicodedata.category(chr(cp)) in ("Mn", "Me", "Cf"):
                table[cp] = None
    for ch in _BLANKS + _EMPHASIS:
        table[ord(ch)] = None
    for target, chars in _CONFUSABLES.items():
        for ch in chars:
            table[ord(ch)] = target
    for ch in _COLONS:
        table[ord(ch)] = ":"
    return table


_ASCII_EMPHASIS = str.maketrans("", "", _EMPHASIS)


def fold(line: str) -> str:
    """The view of ``line`` that the grammar matches (see the module docstring). Idempotent."""
    if line.isascii():
        return line.translate(_ASCII_EMPHASIS)
    # decomposed first, so accents are marks that go ("VÉRDICT" reads as "VERDICT"), then composed again
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKD", line).translate(_fold_table()))


# The keyword followed by a colon: present in every verdict attempt, removed from every defused line.
KEYWORD_COLON = re.compile(r"verdict(\s*):", re.IGNORECASE)
_ATTEMPT = re.compile(
    r"^[\s>#+\-\u2022\u00b7|]*(?:\d{1,3}[.)]\s*)?(?:my\s+)?(?:(?:final|overall)\s+)?verdict\s*:(?P<body>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_OPEN = "[\\[({\"'\u201c\u201d\u2018\u2019\u00ab<]"
_BODY = re.compile(
    rf"^\s*{_OPEN}*\s*(?i:(?:answer|response|option|candidate|assistant|output)\s+)?"
    r"(?:(?i:a\s+)?(?P<tie>(?i:tie))|(?P<up>[AB])|(?P<low>[ab])(?=[^A-Za-z0-9]*$))"
    r"(?![A-Za-z0-9])(?P<rest>.*)$",
    re.DOTALL,
)
_JOINED = re.compile(  # "A or B", "A/B", "A, B", "A > B": two labels joined, no clear choice
    r"^\s*[\])}\"'\u201d\u2019\u00bb>]*\s*(?:(?i:or|and|vs\.?|versus|nor)\s*[/&+=<>|,]?|[/&+=<>|,])\s*"
    + _OPEN + r"*\s*(?i:(?:answer|response|option|candidate|assistant|output)\s+)?(?:[AB]|(?i:tie))(?![A-Za-z0-9])"
)
_BARE = re.compile(r"^[^A-Za-z0-9]*$")
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass(frozen=True)
class VerdictRead:
    """What a reply says: ``label`` ("A", "B", "TIE") or ``None`` with ``problem`` saying why."""

    label: str | None
    problem: str | None = None
    line: str | None = None


def lines(text: str) -> list[str]:
    """Split on every line break a reader would see (CRLF, CR, LF, Unicode separators)."""
    return _LINE_BREAKS.split(text)


def _read_body(body: str, shown: str) -> VerdictRead:
    b = _BODY.match(body)
    if b is None:
        return VerdictRead(None, f"the verdict line {shown!r} names no A, B or TIE", shown)
    label = "TIE" if b.group("tie") else (b.group("up") or b.group("low")).upper()
    if _JOINED.match(b.group("rest")):
        return VerdictRead(None, f"the verdict line {shown!r} is ambiguous (it joins two labels)", shown)
    return VerdictRead(label, None, shown)


def read_line(line: str, next_line: str | None = None) -> VerdictRead | None:
    """``None`` if ``line`` is no verdict attempt; else its label, or the reason it is unclear.

    A bare ``Verdict:`` takes its label from ``next_line`` (the next non-blank line) when that line
    is only the label (``B``, ``**B**``, ``[[TIE]]``, ``Answer A``).
    """
    folded = fold(line)
    m = _ATTEMPT.match(folded)
    if m is None:
        return None
    shown = folded.strip()[:120]
    body = m.group("body")
    if _BARE.match(body) and next_line is not None:
        nxt = fold(next_line)
        got = _read_body(nxt, f"{shown} / {nxt.strip()[:60]}")
        b = _BODY.match(nxt)
        if got.label and b is not None and _BARE.match(b.group("rest")):
            return got
    return _read_body(body, shown)


def read_reply(text: str) -> VerdictRead:
    """The verdict of a judge reply: its last verdict attempt (reasoning blocks already removed)."""
    last: VerdictRead | None = None
    nxt: str | None = None  # the next non-blank line, walking backwards: the last attempt is found first
    for line in reversed(lines(text)):
        got = read_line(line, nxt)
        if got is not None:
            last = got
            break
        if line.strip():
            nxt = line
    if last is None:
        return VerdictRead(None, "no 'VERDICT: A|B|TIE' line in the reply")
    return last


def _defuse_line(line: str) -> str:
    folded = fold(line)
    if KEYWORD_COLON.search(folded) is None:
        return line
    while True:
        out = KEYWORD_COLON.sub(lambda m: f"{m.group(0)[:7]}{m.group(1)} -", folded)
        if out == folded:
            return out
        folded = out


@lru_cache(maxsize=1)
def _line_filters() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Characters whose folded form holds a colon, and a ``v``: a line without both holds no verdict attempt."""
    table = _fold_table()
    colon, vee = {":"}, {"v", "V"}
    for lo, hi in ((0x80, 0x20000), (0xE0000, 0xE1000)):
        for cp in range(lo, hi):
            ch = chr(cp)
            if cp in table or unicodedata.decomposition(ch):  # every other character folds to itself
                f = fold(ch)
                if ":" in f:
                    colon.add(re.escape(ch))
                if "v" in f or "V" in f:
                    vee.add(re.escape(ch))
    return re.compile("[" + "".join(sorted(colon)) + "]"), re.compile("[" + "".join(sorted(vee)) + "]")


def _may_hold_attempt(text: str) -> bool:
    if text.isascii():
        return ":" in text and ("v" in text or "V" in text)
    colon, vee = _line_filters()
    return colon.search(text) is not None and vee.search(text) is not None


def defuse(text: str) -> str:
    """Rewrite every line that holds the verdict keyword and a colon, in any disguise (module docstring)."""
    if not _may_hold_attempt(text):  # most texts: nothing to fold at all
        return text
    parts = _LINE_BREAKS.split(text)
    breaks = _LINE_BREAKS.findall(text) + [""]
    return "".join((_defuse_line(p) if _may_hold_attempt(p) else p) + b for p, b in zip(parts, breaks, strict=True))
