"""Text hygiene before judging: reasoning removal, neutralizing candidate texts, budget truncation.

Rules (stated here because the reward depends on them):

* ``<think>...</think>`` blocks are removed from a policy response.
* A ``</think>`` with no opening tag (chat templates that open the block inside the prompt) means
  everything up to and including it was reasoning.
* An opening ``<think>`` that is never closed means the model never finished thinking: everything
  from that tag to the end is dropped, and only the text before it counts as the answer.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from .grammar import defuse

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_OPEN = re.compile(r"<think>", re.IGNORECASE)
_CLOSE = re.compile(r"</think>", re.IGNORECASE)

# Our answer delimiters use triple angle brackets; candidates may not contain them.
_DELIM_LIKE = re.compile(r"(<{3,}|>{3,})")


def strip_reasoning(text: str) -> str:
    """Return the answer part of a response, following the module's stated rules."""
    if "think>" not in text.lower():  # fast path: most texts carry no reasoning tags
        return text.strip()
    close = _CLOSE.search(text)
    open_ = _OPEN.search(text)
    if close and (open_ is None or close.start() < open_.start()):
        text = text[close.end():]  # block opened in the prompt
    text = _THINK_BLOCK.sub("", text)
    dangling = _OPEN.search(text)
    if dangling:
        text = text[: dangling.start()]
    text = _CLOSE.sub("", text)  # stray closers left after removal carry no content
    return text.strip()


def neutralize(text: str) -> str:
    """Make a candidate text unable to forge a verdict line or an answer delimiter.

    Every line holding the verdict keyword and a colon, in any disguise the verdict grammar sees
    through (look-alike letters, invisible characters, emphasis, other colons), is rewritten in its
    normalized form with the colon turned into `` -`` (``grammar.defuse``); runs of three or more
    angle brackets are spaced out. The rest of the text is untouched, so the judge still reads the
    writing as written.
    """
    text = defuse(text)
    if "<<<" in text or ">>>" in text:
        text = _DELIM_LIKE.sub(lambda m: " ".join(m.group(1)), text)
    return text


@dataclass(frozen=True)
class Truncated:
    text: str
    truncated: bool
    omitted_chars: int


def truncate_middle(text: str, budget_chars: int) -> Truncated:
    """Keep the head and the tail of ``text`` within ``budget_chars``, with an explicit marker."""
    if len(text) <= budget_chars:
        return Truncated(text, False, 0)
    omitted = len(text) - budget_chars
    marker = (
        f"\n\n[... {omitted} characters omitted from the middle of this answer by Writing-RL "
        "to fit the judge's length budget; do not penalize the gap itself ...]\n\n"
    )
    keep = max(0, budget_chars - len(marker))
    head = keep // 2
    tail = keep - head
    return Truncated(text[:head] + marker + (text[-tail:] if tail else ""), True, omitted)


def new_nonce() -> str:
    """A fresh random tag code, for one-off prompts (pointwise scoring); pairwise judging uses ``tagcode``."""
    return secrets.token_hex(3)


def wrap_answer(label: str, text: str, code: str) -> str:
    """Delimit a candidate (already ``neutralize``d) with tags carrying a code it cannot guess.

    The candidate cannot close its tag in any case: it holds no ``<<<``/``>>>`` run once neutralized.
    """
    return f"<<<ANSWER {label} {code}>>>\n{text}\n<<<END OF ANSWER {label} {code}>>>"
