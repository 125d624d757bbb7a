"""One pairwise comparison of a policy response with a reference, under a position strategy.

Strategies:

* ``position-disadvantage`` (default): the reference is answer A, the policy response answer B,
  a deliberate handicap against the judge's preference for the first position.
* ``position-advantage``: the policy response is answer A.
* ``both-orders``: judge both ways; a win only if the response wins both, a loss only if it
  loses both, otherwise a tie. ``disagreement`` says whether the two orders disagreed.

Prompts are built for the provider's prefix cache: the template, the instruction, the criteria and
the reference come before the policy's response, and the answer tags carry a code that is the same
for every judgment of one reference under one template within a run (``tagcode.py``). Nothing that
varies per call precedes the response. The code never leaves the prompt: it is masked in the judge's
reply (``raw``) and in ``--show-prompt``.

A judgment whose judge call failed, whose reply was cut at ``max_tokens`` (``finish_reason``
"length": a draft verdict before the cut must not count), or whose reply has no clear verdict line
(``grammar.py``) is ``failed``; it is never turned into a win, a loss or a tie.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .client import ChatResult, JudgeClient, get_client
from .criteria import format_criteria
from .errors import JudgeInputError
from .settings import JudgeSettings
from .tagcode import tag_code
from .templates import Template, load_template
from .text import neutralize, strip_reasoning, truncate_middle, wrap_answer
from .verdict import read_verdict
from .wire import TRUNCATED_REASONS

STRATEGIES = ("position-disadvantage", "position-advantage", "both-orders")
OUTCOMES = ("win", "tie", "loss", "failed")
HIDDEN_CODE = "[code]"  # what a displayed prompt or a judge reply shows instead of the tag code


@dataclass
class OrderResult:
    policy_position: str
    verdict: str | None
    outcome: str
    raw: str | None
    error: str | None = None


@dataclass
class Judgment:
    """The result of one comparison, from the policy response's point of view."""

    outcome: str
    strategy: str
    reason: str | None = None
    raw: str | None = None
    attempts: int = 0
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # prompt tokens the provider served from its cache (0: none or not reported)
    truncated: dict[str, bool] = field(default_factory=dict)
    disagreement: bool | None = None
    orders: list[OrderResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _policy_outcome(verdict: str, policy_position: str) -> str:
    if verdict == "TIE":
        return "tie"
    return "win" if verdict == policy_position else "loss"


def _require_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise JudgeInputError(f"the {name} must be text, got {type(value).__name__}", name)
    if not value.strip():
        raise JudgeInputError(f"the {name} is empty", name)
    return value


class PairwiseJudge:
    """Renders prompts and judges pairs with one client and one pair of templates."""

    def __init__(self, settings: JudgeSettings | None = None, client: JudgeClient | None = None,
                 template: Template | None = None, criteria_template: Template | None = None) -> None:
        self.settings = settings or (client.settings if client else JudgeSettings.from_env())
        self._client = client
        self._loop_client: tuple[asyncio.AbstractEventLoop, JudgeClient] | None = None
        self.template = template or load_template(self.settings.template)
        self.criteria_template = criteria_template or load_template(self.settings.criteria_template, criteria=True)

    def using(self, client: JudgeClient) -> PairwiseJudge:
        """This judge's settings and templates, calling through ``client``."""
        return PairwiseJudge(self.settings, client, self.template, self.criteria_template)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[PairwiseJudge]:
        """This judge with a client of its own, closed on exit (no "Unclosed client session" at exit)."""
        client = JudgeClient(self.settings)
        try:
            yield self.using(client)
        finally:
            await client.close()

    @property
    def client(self) -> JudgeClient:
        if self._client is not None:
            return self._client
        loop = asyncio.get_running_loop()
        if self._loop_client is None or self._loop_client[0] is not loop:
            self._loop_client = (loop, get_client(self.settings))
        return self._loop_client[1]

    def prepare(self, question: str, reference: str, response: str) -> tuple[str, str, str, dict[str, bool]]:
        """Validate, strip reasoning, neutralize and truncate; returns texts and truncation flags."""
        question = _require_text("question", question)
        reference = _require_text("reference", reference)
        answer = strip_reasoning(_require_text("response", response))
        if not answer:
            raise JudgeInputError("the response is empty once its <think> reasoning is removed", "response")
        budget = self.settings.max_candidate_chars
        ref_t = truncate_middle(neutralize(reference), budget)
        ans_t = truncate_middle(neutralize(answer), budget)
        return question, ref_t.text, ans_t.text, {"reference": ref_t.truncated, "response": ans_t.truncated}

    def _render(self, question: str, first: str, second: str, criteria: Any, reference: str,
                code: str | None) -> tuple[str, str]:
        crit = format_criteria(criteria)
        tpl = self.criteria_template if crit else self.template
        code = self.tag_code(tpl, reference) if code is None else code
        values = {
            "question": neutralize(question),
            "answer_a": wrap_answer("A", first, code),
            "answer_b": wrap_answer("B", second, code),
        }
        if "criteria" in tpl.slots:
            values["criteria"] = neutralize(crit) if crit else "(no specific criteria given)"
        return tpl.render(**values), code

    def render(self, question: str, first: str, second: str, criteria: Any = None, *,
               reference: str | None = None, code: str | None = None) -> str:
        """The prompt with ``first`` as answer A and ``second`` as answer B (prepared texts).

        The tag code derives from ``reference`` (default: ``first``); ``code`` overrides it, e.g.
        ``HIDDEN_CODE`` for a prompt shown to a person.
        """
        return self._render(question, first, second, criteria, first if reference is None else reference, code)[0]

    def tag_code(self, template: Template, reference: str) -> str:
        """The answer-tag code: one per (template, reference) within a run (see ``tagcode.py``)."""
        return tag_code(template.text, reference)

    async def _one_order(self, question: str, reference: str, answer: str, criteria: Any,
                         policy_position: str) -> tuple[OrderResult, ChatResult]:
        first, second = (reference, answer) if policy_position == "B" else (answer, reference)
        prompt, code = self._render(question, first, second, criteria, reference, None)
        res = await self.client.chat([{"role": "user", "content": prompt}])
        if not res.ok:
            return OrderResult(policy_position, None, "failed", None, res.error), res
        raw = (res.text or "").replace(code, HIDDEN_CODE)  # a judge may quote the tags back
        if res.finish_reason in TRUNCATED_REASONS:
            why = (f"truncated: the judge's reply was cut at max_tokens ({self.settings.max_tokens}, "
                   "JUDGE_MAX_TOKENS) before it finished; raise JUDGE_MAX_TOKENS or ask for a shorter comparison")
            return OrderResult(policy_position, None, "failed", raw, why), res
        read = read_verdict(res.text or "")
        if read.label is None:
            return OrderResult(policy_position, None, "failed", raw, read.problem), res
        verdict = read.label
        return OrderResult(policy_position, verdict, _policy_outcome(verdict, policy_position), raw), res

    async def compare(self, question: str, reference: str, response: str, criteria: Any = None,
                      strategy: str = "position-disadvantage") -> Judgment:
        """Judge ``response`` against ``reference`` for ``question`` (see the module docstring)."""
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        question, ref, ans, truncated = self.prepare(question, reference, response)
        positions: Sequence[str] = {"position-disadvantage": "B", "position-advantage": "A"}.get(strategy, "BA")
        if len(positions) == 1:
            pairs = [await self._one_order(question, ref, ans, criteria, positions[0])]
        else:
            pairs = await asyncio.gather(*(self._one_order(question, ref, ans, criteria, p) for p in positions))
        orders = [o for o, _ in pairs]
        chats = [c for _, c in pairs]
        j = Judgment(outcome="failed", strategy=strategy, truncated=truncated, orders=orders,
                     raw="\n\n=====\n\n".join(o.raw or "" for o in orders) if len(orders) > 1 else orders[0].raw,
                     attempts=sum(c.attempts for c in chats), latency_s=max(c.latency_s for c in chats),
                     prompt_tokens=sum(c.prompt_tokens for c in chats),
                     completion_tokens=sum(c.completion_tokens for c in chats),
                     cached_prompt_tokens=sum(c.cached_prompt_tokens for c in chats))
        failed = [o for o in orders if o.outcome == "failed"]
        if failed:
            j.reason = "; ".join(f"order with response as {o.policy_position}: {o.error}" for o in failed)
            return j
        outcomes = [o.outcome for o in orders]
        if len(outcomes) == 1:
            j.outcome = outcomes[0]
        else:
            j.disagreement = outcomes[0] != outcomes[1]
            j.outcome = outcomes[0] if outcomes[0] == outcomes[1] and outcomes[0] != "tie" else "tie"
        return j


async def compare(question: str, reference: str, response: str, criteria: Any = None,
                  strategy: str = "position-disadvantage", *, settings: JudgeSettings | None = None,
                  judge: PairwiseJudge | None = None) -> Judgment:
    """``PairwiseJudge.compare`` with a judge kept per settings (templates are read once, not per call)."""
    if judge is None:
        settings = settings or JudgeSettings.from_env()
        key = repr(settings)
        judge = _DEFAULT_JUDGES.get(key)
        if judge is None:
            judge = _DEFAULT_JUDGES[key] = PairwiseJudge(settings)
    return await judge.compare(question, reference, response, criteria, strategy)


_DEFAULT_JUDGES: dict[str, PairwiseJudge] = {}
