"""Parse the judge's verdict: the last explicit ``VERDICT: A|B|TIE`` line, or nothing.

There is no fallback that looks for a letter elsewhere in the text: no verdict line is a failure.
Reasoning blocks of the judge itself are removed before parsing, so a verdict that only appears
inside the judge's ``<think>`` block does not count.
"""

from __future__ import annotations

import re

from .text import strip_reasoning

_VERDICT_LINE = re.compile(
    r"^[ \t>*_#`-]*verdict[ \t*_`]*[:：][ \t*_`\[]*(A|B|TIE)[ \t*_`\].]*$",
    re.IGNORECASE | re.MULTILINE,
)


def parse_verdict(judge_text: str) -> str | None:
    """Return ``"A"``, ``"B"``, ``"TIE"`` from the judge's last verdict line, else ``None``."""
    matches = _VERDICT_LINE.findall(strip_reasoning(judge_text or ""))
    return matches[-1].upper() if matches else None
