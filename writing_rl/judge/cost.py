"""Judge cost arithmetic: the share of judge prompt tokens a provider can cache, and prices.

Within one training step, the ``n`` rollouts of a sample are judged with prompts that are identical
up to the policy's response (``compare.py``). A perfect prefix cache computes that shared part once
and serves it ``n - 1`` times, so per strategy, with ``B`` = characters before the response when the
reference comes first, ``H`` = characters before the response when the response comes first and
``T`` = a prompt's length:

* ``position-disadvantage`` (reference first): ``(n-1)·B / (n·T)``;
* ``position-advantage`` (response first): ``(n-1)·H / (n·T)``;
* ``both-orders``: all ``2n`` prompts share ``H`` (template, instruction, criteria, the first start
  tag) and the ``n`` reference-first ones also share the rest of ``B``:
  ``((2n-1)·H + (n-1)·(B-H)) / (n·(T_ref_first + T_response_first))``.

Character shares stand in for token shares. Not counted: the template head shared across samples,
and hits in later steps (a sample keeps its reference until its level changes). Providers cache less
than this ceiling: only prefixes above a minimum (OpenAI 1,024 tokens, DashScope 256), in blocks, and
for as long as they keep them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_SENTINEL = "\x00writing-rl-response\x00"
PRICE_VARS = ("JUDGE_PRICE_INPUT", "JUDGE_PRICE_CACHED_INPUT", "JUDGE_PRICE_OUTPUT")


@dataclass(frozen=True)
class Layout:
    """One rendered prompt: characters before the policy's response, and in all."""

    before_response: int
    total: int


def layouts(judge: Any, question: str, reference: str, response: str, criteria: Any = None) -> tuple[Layout, Layout]:
    """The prompt layouts with the reference first and with the response first (``judge``: a PairwiseJudge)."""
    q, ref, ans, _ = judge.prepare(question, reference, response)
    out = []
    for first, second in ((ref, _SENTINEL), (_SENTINEL, ref)):
        prompt = judge.render(q, first, second, criteria, reference=ref)
        out.append(Layout(prompt.index(_SENTINEL), len(prompt) - len(_SENTINEL) + len(ans)))
    return out[0], out[1]


def cacheable_share(strategy: str, n: int, samples: Iterable[tuple[Layout, Layout]]) -> tuple[float, float]:
    """(expected cacheable share of prompt tokens in a step, share of a prompt before the response)."""
    cached = total = shared = whole = 0.0
    for ref_first, resp_first in samples:
        b, h = ref_first.before_response, resp_first.before_response
        if strategy == "position-advantage":
            cached += (n - 1) * h
            total += n * resp_first.total
            shared, whole = shared + h, whole + resp_first.total
        elif strategy == "both-orders":
            cached += (2 * n - 1) * h + (n - 1) * max(0, b - h)
            total += n * (ref_first.total + resp_first.total)
            shared, whole = shared + b + h, whole + ref_first.total + resp_first.total
        else:
            cached += (n - 1) * b
            total += n * ref_first.total
            shared, whole = shared + b, whole + ref_first.total
    return (cached / total if total else 0.0), (shared / whole if whole else 0.0)


@dataclass(frozen=True)
class Prices:
    """Judge prices in currency units per million tokens."""

    input: float
    cached_input: float
    output: float

    def cost(self, prompt_tokens: float, cached_tokens: float, completion_tokens: float) -> float:
        fresh = max(0.0, prompt_tokens - cached_tokens)
        return (fresh * self.input + cached_tokens * self.cached_input + completion_tokens * self.output) / 1e6


def prices_from_env(env: Mapping[str, str] | None = None) -> Prices | None:
    """``JUDGE_PRICE_*`` per million tokens; None when none is set; ValueError naming a bad one.

    ``JUDGE_PRICE_INPUT`` and ``JUDGE_PRICE_OUTPUT`` are needed once any is set;
    ``JUDGE_PRICE_CACHED_INPUT`` defaults to the input price (no cache discount).
    """
    env = os.environ if env is None else env
    raw = {k: str(env.get(k, "")).strip() for k in PRICE_VARS}
    if not any(raw.values()):
        return None
    values: dict[str, float] = {}
    for k, v in raw.items():
        if not v:
            continue
        try:
            values[k] = float(v)
        except ValueError:
            values[k] = -1.0
        if not values[k] >= 0 or values[k] == float("inf"):
            raise ValueError(f"{k}={v!r} is not a price per million tokens (a number >= 0); fix or unset it")
    missing = [k for k in ("JUDGE_PRICE_INPUT", "JUDGE_PRICE_OUTPUT") if k not in values]
    if missing:
        raise ValueError(f"{' and '.join(missing)} not set: a cost estimate needs the input and output prices "
                         "per million tokens (JUDGE_PRICE_CACHED_INPUT is optional)")
    inp = values["JUDGE_PRICE_INPUT"]
    return Prices(inp, values.get("JUDGE_PRICE_CACHED_INPUT", inp), values["JUDGE_PRICE_OUTPUT"])
