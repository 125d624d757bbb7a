"""Format reward for think-then-answer training, and the answer part that is judged and counted.

A response has the right format when it is exactly ``<think>PLAN</think>`` followed by
``<answer>TEXT</answer>``: one opening and one closing tag of each, in that order, nothing but
whitespace before, between or after the two blocks, and a non-empty ``TEXT`` (the plan may be
empty). Tags are matched exactly (case-sensitive, no attributes); their names are configurable.

Chat templates that open the think block inside the generation prompt leave the response
starting after ``<think>``; pass ``think_opened=True`` and a missing leading ``<think>`` is
supplied before checking.
"""

from __future__ import annotations

import re

from writing_rl.judge.text import strip_reasoning

from .base import ComponentResult, RewardConfigError

LAYOUTS = ("plain", "think-answer")
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def check_tags(think_tag: str, answer_tag: str) -> tuple[str, str, str, str]:
    """Validate the tag names; return the four tags: think open/close, answer open/close."""
    for name in (think_tag, answer_tag):
        if not isinstance(name, str) or not _TAG.fullmatch(name):
            raise RewardConfigError(f"tag name {name!r} must be letters, digits, '_' or '-', starting with a letter")
    if think_tag == answer_tag:
        raise RewardConfigError(f"the think and answer tags must differ, both are {think_tag!r}")
    return f"<{think_tag}>", f"</{think_tag}>", f"<{answer_tag}>", f"</{answer_tag}>"


def _open_think(response: str, open_: str, think_opened: bool) -> str:
    return open_ + response if think_opened and not response.lstrip().startswith(open_) else response


def _block(response: str, open_: str, close: str) -> str | None:
    """The content of the block if both of its tags occur exactly once, in order."""
    if response.count(open_) != 1 or response.count(close) != 1:
        return None
    start, end = response.index(open_) + len(open_), response.index(close)
    return response[start:end] if start <= end else None


def _check(response: str, think_tag: str, answer_tag: str, think_opened: bool) -> tuple[str | None, str | None]:
    """Return (answer, None) for a well-formed response, else (None, reason)."""
    to, tc, ao, ac = check_tags(think_tag, answer_tag)
    response = _open_think(response, to, think_opened)
    for tag in (to, tc, ao, ac):
        n = response.count(tag)
        if n != 1:
            return None, f"{tag} occurs {n} times, expected exactly once"
    i = [response.index(t) for t in (to, tc, ao, ac)]
    if i != sorted(i):
        return None, f"tags out of order; expected {to}…{tc} then {ao}…{ac}"
    outside = {
        f"before {to}": response[: i[0]],
        f"between {tc} and {ao}": response[i[1] + len(tc): i[2]],
        f"after {ac}": response[i[3] + len(ac):],
    }
    for where, text in outside.items():
        if text.strip():
            return None, f"text {where}"
    answer = response[i[2] + len(ao): i[3]]
    if not answer.strip():
        return None, f"empty {ao} block"
    return answer.strip(), None


def split_think_answer(
    response: str, think_tag: str = "think", answer_tag: str = "answer", *, think_opened: bool = False
) -> tuple[str | None, str | None]:
    """(think, answer) contents, stripped; each is None unless its two tags occur exactly once, in order.

    This is lenient: use :func:`format_reward` to check the whole layout.
    """
    to, tc, ao, ac = check_tags(think_tag, answer_tag)
    response = _open_think(response, to, think_opened)
    think, answer = _block(response, to, tc), _block(response, ao, ac)
    return (None if think is None else think.strip()), (None if answer is None else answer.strip())


def format_reward(
    response: str, *, think_tag: str = "think", answer_tag: str = "answer", think_opened: bool = False
) -> ComponentResult:
    """1.0 for the exact think-then-answer layout (module docstring), 0.0 otherwise with the reason."""
    answer, reason = _check(response, think_tag, answer_tag, think_opened)
    if reason:
        return ComponentResult(0.0, {"reason": reason})
    return ComponentResult(1.0, {"answer_chars": len(answer or "")})


def answer_text(
    response: str,
    layout: str = "plain",
    *,
    think_tag: str = "think",
    answer_tag: str = "answer",
    think_opened: bool = False,
) -> str:
    """The part of a response that is judged and counted for length.

    ``plain``: the response without its ``<think>`` reasoning (the judge's rules,
    :func:`writing_rl.judge.text.strip_reasoning`). ``think-answer``: the answer block of a well-formed
    response, and ``""`` when the format is broken, so a malformed response earns no length or
    quality credit (the caller decides what an empty answer scores; the judge refuses empty text).
    """
    if layout == "plain":
        return strip_reasoning(response)
    if layout != "think-answer":
        raise RewardConfigError(f"unknown response layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    answer, _ = _check(response, think_tag, answer_tag, think_opened)
    return answer or ""
