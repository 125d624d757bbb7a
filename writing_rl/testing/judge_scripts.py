"""What the loopback judge answers: the ``Reply`` a script returns for a ``ScriptRequest``, and ready-made judges.

Ready-made pairwise judges with known behavior (for ``writing-rl judge audit`` and its tests):
``first_answer_judge`` (always ``VERDICT: A``), ``longer_answer_judge`` (the answer with more
characters), ``accurate_judge`` (the stronger answer on exactly ``accuracy`` of its calls) and
``flaky_judge`` (wraps another script and answers ``failure_rate`` of the calls with no verdict
line). Rates are exact, not drawn at random: call i misbehaves when ``floor((i + 1) * rate)``
passes an integer, so any run of calls holds the stated share, whatever the arrival order.

``accurate_judge`` must know which answer is stronger. By default it reads a level mark that the
test data puts at the start of each reference text, ``[level N]`` (``level_text(N, body)`` writes
one; higher N is stronger); pass ``level_of`` to read levels some other way.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


@dataclass
class Reply:
    text: str = "VERDICT: B"
    delay_s: float = 0.0
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    drop: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    finish_reason: str = "stop"
    trickle_s: float = 0.0  # send a space every 0.1 s for this long before the JSON body
    echo_headers: bool = False  # an error body that repeats the request headers (as some proxies do)


@dataclass
class ScriptRequest:
    index: int
    path: str
    api: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def prompt(self) -> str:
        msgs = self.body.get("messages") or self.body.get("input", {}).get("messages") or []
        return "\n".join(str(m.get("content", "")) for m in msgs)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))


Script = Callable[[ScriptRequest], Reply]


def answer_block(prompt: str, label: str) -> str:
    """Extract the text of answer ``label`` ("A" or "B") from a rendered pairwise prompt."""
    m = re.search(rf"<<<ANSWER {label} (\w+)>>>\n(.*?)\n<<<END OF ANSWER {label} \1>>>", prompt, re.DOTALL)
    return m.group(2) if m else ""


# ------------------------------------------------------------------ scripted pairwise judges
_LEVEL_MARK = re.compile(r"\[level (\d+)\]")


def level_text(level: int, body: str) -> str:
    """A reference text carrying its level for ``accurate_judge``: ``[level N] body``."""
    return f"[level {level}] {body}"


def marked_level(text: str) -> int | None:
    """The level written by ``level_text`` at the start of ``text``, or None."""
    m = _LEVEL_MARK.search(text[:200])
    return int(m.group(1)) if m else None


class EveryNth:
    """True on exactly ``rate`` of the calls, spread evenly: call i fires when floor((i+1)*rate) > floor(i*rate)."""

    def __init__(self, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, got {rate}")
        self.rate = Fraction(rate).limit_denominator(10_000)
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        with self._lock:
            i = self.calls
            self.calls += 1
        return math.floor((i + 1) * self.rate) > math.floor(i * self.rate)


def verdict_reply(choice: str, delay_s: float = 0.0) -> Reply:
    """A short judge reply ending with ``VERDICT: <choice>``."""
    return Reply(text=f"Both answers were read closely.\nVERDICT: {choice}", delay_s=delay_s)


def first_answer_judge(delay_s: float = 0.0) -> Script:
    """Always prefers answer A, whatever the texts."""
    return lambda req: verdict_reply("A", delay_s)


def longer_answer_judge(delay_s: float = 0.0) -> Script:
    """Prefers the answer with more characters (TIE when equal)."""

    def script(req: ScriptRequest) -> Reply:
        a, b = len(answer_block(req.prompt, "A")), len(answer_block(req.prompt, "B"))
        return verdict_reply("TIE" if a == b else ("A" if a > b else "B"), delay_s)

    return script


def accurate_judge(
    accuracy: float = 0.8, level_of: Callable[[str], int | None] = marked_level, delay_s: float = 0.0
) -> Script:
    """Picks the stronger answer on exactly ``accuracy`` of its calls and the weaker one otherwise.

    The stronger answer is the one with the higher ``level_of(text)``; equal or unknown levels get TIE.
    """
    wrong = EveryNth(1.0 - accuracy)

    def script(req: ScriptRequest) -> Reply:
        la, lb = level_of(answer_block(req.prompt, "A")), level_of(answer_block(req.prompt, "B"))
        if la is None or lb is None or la == lb:
            return verdict_reply("TIE", delay_s)
        stronger, weaker = ("A", "B") if la > lb else ("B", "A")
        return verdict_reply(weaker if wrong() else stronger, delay_s)

    return script


def flaky_judge(inner: Script, failure_rate: float = 0.1, fault: Reply | None = None) -> Script:
    """Answers ``failure_rate`` of the calls with ``fault`` (default: a reply with no verdict line)."""
    fails = EveryNth(failure_rate)
    fault = fault or Reply(text="Both answers have merits and I cannot decide between them.")

    def script(req: ScriptRequest) -> Reply:
        return fault if fails() else inner(req)

    return script


def hashed_verdict(req: ScriptRequest) -> Reply:
    """A deterministic mix of verdicts from a hash of the two answers (about 40% A, 40% B, 20% tie)."""
    digest = hashlib.sha256((answer_block(req.prompt, "A") + "\0" + answer_block(req.prompt, "B")).encode()).digest()
    verdict = ("A", "A", "B", "B", "TIE")[digest[0] % 5]
    return Reply(text=f"Compared both answers.\nVERDICT: {verdict}")


POLICIES: dict[str, Script] = {
    "hash": hashed_verdict,
    "a": lambda req: Reply(text="VERDICT: A"),
    "b": lambda req: Reply(text="VERDICT: B"),
    "tie": lambda req: Reply(text="VERDICT: TIE"),
}
