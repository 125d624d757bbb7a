"""Parse the judge's verdict: the last verdict line of the reply, or nothing.

What counts as a verdict line is defined once, in ``grammar.py`` (the same definition defuses
candidate texts). There is no fallback that looks for a letter elsewhere in the text: no verdict
line, or an unclear last one, is a failure. Reasoning blocks of the judge itself are removed before
parsing, so a verdict that only appears inside the judge's ``<think>`` block does not count.
"""

from __future__ import annotations

from .grammar import VerdictRead, read_reply
from .text import strip_reasoning


def read_verdict(judge_text: str) -> VerdictRead:
    """The label of the judge's last verdict line, or ``None`` with the reason."""
    return read_reply(strip_reasoning(judge_text or ""))


def parse_verdict(judge_text: str) -> str | None:
    """Return ``"A"``, ``"B"``, ``"TIE"`` from the judge's last verdict line, else ``None``."""
    return read_verdict(judge_text).label
