"""Scripted players for a loopback ``FakeJudgeServer``: generation models and the pointwise judge.

Used by the tests and ``benchmarks/bench_select.py`` (and handy to try the pipeline offline). A
generation reply is ``[[by MODEL]] `` followed by the instruction, so the judge script can tell
who wrote the answer it grades and for which instruction, and answer with the scores the caller
chooses for that pair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..testing.fake_judge import Reply, ScriptRequest, answer_block

_BY = re.compile(r"^\[\[by (\S+)\]\] (.*)$", re.DOTALL)
_KEY = re.compile(r'"([a-z][a-z0-9_]*)": N\b')


def is_scoring(req: ScriptRequest) -> bool:
    return "<<<ANSWER R " in req.prompt


def generation_text(model: str, prompt: str) -> str:
    return f"[[by {model}]] {prompt}"


def graded(req: ScriptRequest) -> tuple[str, str, list[str]]:
    """From a scoring request: (model that wrote the answer, its instruction, dimension keys asked for)."""
    m = _BY.match(answer_block(req.prompt, "R"))
    if not m:
        raise ValueError("the graded answer was not written by a loopback model")
    return m.group(1), m.group(2), _KEY.findall(req.prompt)


def scores_text(keys: list[str], score: int | dict[str, object]) -> str:
    """A well-formed judge reply giving ``score`` to every key (or the given per-key values)."""
    values = score if isinstance(score, dict) else {k: score for k in keys}
    return "Solid structure; some gaps in detail.\n" + json.dumps({"scores": values})


ScoreFn = Callable[[str, str, list[str]], "int | dict[str, object] | Reply"]


@dataclass
class Players:
    """A script for ``FakeJudgeServer``: models write, the judge (``judge_model``) scores.

    ``score(model, instruction, keys)`` returns an int for every key, a dict of per-key values
    (anything, to script malformed scores), or a whole ``Reply`` (to script faults).
    """

    score: ScoreFn
    judge_model: str = "judge"
    delay_s: float = 0.0

    def __call__(self, req: ScriptRequest) -> Reply:
        if req.model == self.judge_model:
            model, prompt, keys = graded(req)
            out = self.score(model, prompt, keys)
            if isinstance(out, Reply):
                return out
            return Reply(text=scores_text(keys, out), delay_s=self.delay_s)
        msgs = req.body.get("messages") or req.body.get("input", {}).get("messages") or []  # OpenAI | DashScope
        user = [m["content"] for m in msgs if m.get("role") == "user"]
        return Reply(text=generation_text(req.model, user[-1] if user else ""), delay_s=self.delay_s)
