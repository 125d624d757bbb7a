"""Strict-JSON scores from a judge's reply, and the ask-and-re-ask loop around them.

A score reply ends with one JSON object holding exactly the requested keys, each a whole number
in range. ``<think>`` blocks are removed first. Two shapes of reply are read:

* flat (``envelope=None``): the last non-empty line is the object (``{"score": 7}``); a closing
  Markdown code fence after it, and a ``json`` tag before it, are ignored;
* wrapped (``envelope="scores"``): the last object anywhere in the reply that has that key
  (``{"scores": {"c1": 7, ...}}``), which may span lines.

Nothing else is forgiven. A reply that does not parse is asked again, at most ``max_reasks`` times,
either as a follow-up naming the problem or as the same question afresh; after that the score is
failed, reported with its reasons, never filled in with a default.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..judge.client import ChatResult
from ..judge.text import strip_reasoning

_FENCE = "```"
Messages = list[dict[str, str]]


class ScoreParseError(ValueError):
    """The judge's reply does not end with the required JSON object; the message says why."""


def _last_line_object(body: str) -> Any:
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    while lines and lines[-1] == _FENCE:
        lines.pop()
    if not lines:
        raise ScoreParseError("the reply is empty")
    last = lines[-1].strip("`").strip()
    if last.lower().startswith("json"):
        last = last[4:].strip()
    try:
        obj = json.loads(last)
    except json.JSONDecodeError:
        raise ScoreParseError(f"the last line is not a JSON object: {lines[-1][:120]!r}") from None
    if not isinstance(obj, dict):
        raise ScoreParseError(f"the last line is JSON but not an object: {lines[-1][:120]!r}")
    return obj


def _enveloped_object(body: str, envelope: str) -> Any:
    decoder = json.JSONDecoder()
    for start in (i for i in range(len(body) - 1, -1, -1) if body[i] == "{"):
        try:
            obj, _ = decoder.raw_decode(body, start)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and envelope in obj:
            if not isinstance(obj[envelope], dict):
                raise ScoreParseError(f'"{envelope}" is not an object')
            return obj[envelope]
    raise ScoreParseError(f'no JSON object with "{envelope}" in the reply')


def parse_scores(
    text: str | None, keys: Sequence[str], lo: int = 1, hi: int = 10, *, envelope: str | None = None
) -> dict[str, int]:
    """The scores of a judge reply under the strict contract above, or ``ScoreParseError`` saying why."""
    body = strip_reasoning(text or "")
    obj = _last_line_object(body) if envelope is None else _enveloped_object(body, envelope)
    missing = [k for k in keys if k not in obj]
    extra = [k for k in obj if k not in keys]
    if missing or extra:
        parts = ([f"missing key(s) {missing}"] if missing else []) + ([f"unexpected key(s) {extra}"] if extra else [])
        raise ScoreParseError("; ".join(parts))
    for k in keys:
        v = obj[k]
        if isinstance(v, bool) or not isinstance(v, int):
            raise ScoreParseError(f"{k!r} is {v!r}, not a whole number (an integer)")
        if not lo <= v <= hi:
            raise ScoreParseError(f"{k!r} = {v} is outside {lo}..{hi}")
    return {k: obj[k] for k in keys}


def format_line(keys: Sequence[str], lo: int, hi: int) -> str:
    """The required flat last line, for prompts: ``{"score": <integer 1-10>}``."""
    return "{" + ", ".join(f'"{k}": <integer {lo}-{hi}>' for k in keys) + "}"


@dataclass
class Asked:
    """The outcome of asking for one score: the scores, or why not, and what the asking cost."""

    scores: dict[str, int] | None = None
    call_error: str | None = None  # the call itself failed (after the client's own retries)
    problems: list[str] = field(default_factory=list)  # every reason, in order
    raw: str | None = None
    calls: int = 0
    attempts: int = 0
    reasks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


async def ask_scores(
    send: Callable[[Messages], Awaitable[ChatResult | None]],
    question: Callable[[], Messages],
    keys: Sequence[str],
    lo: int = 1,
    hi: int = 10,
    *,
    envelope: str | None = None,
    max_reasks: int = 2,
    follow_up: Callable[[Messages, str, str], Messages] | None = None,
) -> Asked | None:
    """Ask until the reply parses, at most ``1 + max_reasks`` times; ``None`` if ``send`` refused (budget).

    ``follow_up(messages, reply, problem)`` builds a re-ask that continues the conversation; without
    it the question is asked afresh (``question()`` again). A failed call is not re-asked: the
    client already retried the transport.
    """
    out = Asked()
    messages = question()
    for round_ in range(max_reasks + 1):
        res = await send(messages)
        if res is None:
            return None
        out.calls += 1
        out.attempts += res.attempts
        out.prompt_tokens += res.prompt_tokens
        out.completion_tokens += res.completion_tokens
        out.raw = res.text
        if not res.ok:
            out.call_error = res.error or "judge call failed"
            out.problems.append(out.call_error)
            return out
        try:
            out.scores = parse_scores(res.text, keys, lo, hi, envelope=envelope)
            return out
        except ScoreParseError as e:
            out.problems.append(str(e))
            if round_ == max_reasks:
                break
            out.reasks += 1
            messages = follow_up(messages, res.text or "", str(e)) if follow_up else question()
    return out
