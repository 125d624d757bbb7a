"""The audit's numbers: ladder accuracy, position bias, length preference, reliability, strategy choice.

Every rate is a percent with a 95% percentile bootstrap interval over its items (the eval harness's
``bootstrap_shares``). Definitions:

* **ladder accuracy**: of the judgments with a verdict, the share where the stronger reference won
  (a tie is not a win: the curriculum only moves on wins);
* **flip rate**: of the pairs with a verdict in both orders, the share whose verdict changed when
  the order was swapped;
* **first-position share**: of the decisive verdicts (A or B), the share that went to answer A;
* **longer-wins share**: of the decisive verdicts on pairs whose lengths differ by 10% or more
  (Chinese characters plus English words), the share that went to the longer text; where better
  references are also longer this mixes quality with length, so the **weaker-but-longer wins**
  share counts only the pairs whose longer text is the weaker one: length winning over quality;
* **failure rate**: of every judgment logged for the audited pairs, the share with no verdict
  (no verdict line, a call that gave up, ...), grouped by reason;
* **strategies**: how often a policy response would win against a reference when it is the
  stronger text and when it is the weaker one (a false win), under each ``REWARD_STRATEGY``; their
  difference, the win gap, is the signal. ``recommend`` says which strategy is safer and why.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..eval.pairwise import bootstrap_shares
from ..textstats import count_words
from .pairs import LadderPair

OUTCOMES = ("stronger", "tie", "weaker")
LENGTH_RATIO = 1.1
FALSE_WIN_LIMIT = 25.0  # percent of weaker responses winning under position-disadvantage before both-orders pays
SLOW_WIN_LIMIT = 50.0  # percent of stronger responses winning below which the curriculum crawls
_REASON_KINDS = re.compile(r"HTTP \d{3}|timeout|connection error|malformed response|truncat\w*", re.IGNORECASE)


class Shares:
    """``bootstrap_shares`` with the audit's fixed resampling settings."""

    def __init__(self, n_boot: int = 1000, seed: int = 0) -> None:
        self.n_boot, self.seed = n_boot, seed

    def __call__(self, outcomes: Iterable[str], categories: tuple[str, ...]) -> dict[str, Any]:
        return bootstrap_shares(list(outcomes), categories, n_boot=self.n_boot, seed=self.seed)


def failure_kind(reason: str | None) -> str:
    """A short, countable name for why a judgment failed."""
    text = reason or "unknown"
    if "VERDICT" in text:
        return "no verdict line"
    if "input:" in text:
        return "unusable input"
    m = _REASON_KINDS.search(text.split("last error:")[-1])
    if m:
        return ("gave up: " if "gave up" in text else "") + m.group(0).lower().replace("http", "HTTP")
    return text.split(": ", 1)[-1][:60]


def _length(text: str) -> int:
    return count_words(text) or len(text)


def longer_side(pair: LadderPair) -> str | None:
    """``stronger``/``weaker`` for the longer text, None when the lengths are within 10%."""
    a, b = _length(pair.stronger), _length(pair.weaker)
    if max(a, b) < LENGTH_RATIO * min(a, b):
        return None
    return "stronger" if a > b else "weaker"


def _group(pairs: list[LadderPair], final: dict, key: Callable[[LadderPair], Any]) -> dict[Any, list[str]]:
    groups: dict[Any, list[str]] = {}
    for p in pairs:
        k = key(p)
        if k is None:
            continue
        groups.setdefault(k, []).extend(r["outcome"] for r in final[p.id].values() if r["outcome"] != "failed")
    return groups


def ladder(pairs: list[LadderPair], final: dict, shares: Shares) -> dict[str, Any]:
    out: dict[str, Any] = {"overall": shares(_group(pairs, final, lambda p: "all").get("all", []), OUTCOMES)}
    out["by_distance"] = {str(k): shares(v, OUTCOMES)
                          for k, v in sorted(_group(pairs, final, lambda p: p.distance).items())}
    for name, attr in (("by_source", "source"), ("by_domain", "domain")):
        groups = _group(pairs, final, lambda p, a=attr: getattr(p, a))
        if len(groups) > 1:  # one group would repeat the overall figure
            out[name] = {k: shares(v, OUTCOMES) for k, v in sorted(groups.items())}
    return out


def _both(pairs: list[LadderPair], final: dict) -> list[tuple[str, str]]:
    """(outcome with the stronger first, outcome with it second) for pairs with a verdict in both orders."""
    out = []
    for p in pairs:
        first, second = final[p.id]["stronger-first"]["outcome"], final[p.id]["stronger-second"]["outcome"]
        if "failed" not in (first, second):
            out.append((first, second))
    return out


def _rate(values: list[bool]) -> float | None:
    return 100.0 * sum(values) / len(values) if values else None


def strategies(pairs: list[LadderPair], final: dict) -> dict[str, dict[str, Any]]:
    """Win chances of a policy response that is the stronger / the weaker text, per strategy."""
    by_order = {o: [final[p.id][o]["outcome"] for p in pairs if final[p.id][o]["outcome"] != "failed"]
                for o in ("stronger-first", "stronger-second")}
    both = _both(pairs, final)
    table = {
        # the policy is answer B: stronger B is order stronger-second; weaker B is order stronger-first
        "position-disadvantage": (_rate([o == "stronger" for o in by_order["stronger-second"]]),
                                  _rate([o == "weaker" for o in by_order["stronger-first"]]), 1),
        "position-advantage": (_rate([o == "stronger" for o in by_order["stronger-first"]]),
                               _rate([o == "weaker" for o in by_order["stronger-second"]]), 1),
        "both-orders": (_rate([a == b == "stronger" for a, b in both]), _rate([a == b == "weaker" for a, b in both]),
                        2),
    }
    out = {}
    for name, (win_stronger, win_weaker, calls) in table.items():
        signal = None if win_stronger is None or win_weaker is None else win_stronger - win_weaker
        out[name] = {"win_if_stronger": win_stronger, "win_if_weaker": win_weaker, "signal": signal,
                     "calls_per_comparison": calls}
    return out


def recommend(table: dict[str, dict[str, Any]]) -> tuple[str | None, str]:
    """``position-disadvantage`` or ``both-orders``, and the reason in numbers.

    Without ties both strategies have the same win gap between a stronger and a weaker response
    (the signal column: per pair, both orders right minus both wrong equals right as B minus wrong
    as A, on average), so the choice turns on false wins: a weaker response that wins
    moves its sample up a level it has not earned. Under position-disadvantage the judge's position
    bias either holds a response back (it favors answer A) or pushes it forward (it favors B);
    both-orders only counts a win both orders agree on. It is worth twice the calls when
    position-disadvantage lets more than ``FALSE_WIN_LIMIT`` percent of weaker responses win and
    both-orders lets fewer win.
    """
    pd_, bo = table["position-disadvantage"], table["both-orders"]
    if pd_["signal"] is None or bo["signal"] is None:
        return None, "not enough pairs judged in both orders to compare the strategies"
    facts = (f"under position-disadvantage a weaker response wins {pd_['win_if_weaker']:.1f}% and a stronger one "
             f"{pd_['win_if_stronger']:.1f}%; under both-orders {bo['win_if_weaker']:.1f}% and "
             f"{bo['win_if_stronger']:.1f}% at twice the calls")
    slow = (f"; a stronger response wins under {SLOW_WIN_LIMIT:g}% either way, so the curriculum will be slow "
            "whatever the strategy" if max(pd_["win_if_stronger"], bo["win_if_stronger"]) < SLOW_WIN_LIMIT else "")
    if pd_["win_if_weaker"] > FALSE_WIN_LIMIT and bo["win_if_weaker"] < pd_["win_if_weaker"]:
        return "both-orders", (f"{facts}: more than {FALSE_WIN_LIMIT:g}% false wins under position-disadvantage "
                               f"would move samples up levels they have not earned{slow}")
    return "position-disadvantage", (f"{facts}: at most {FALSE_WIN_LIMIT:g}% false wins under "
                                     f"position-disadvantage, so both-orders is not worth twice the calls{slow}")


def position(pairs: list[LadderPair], final: dict, shares: Shares) -> dict[str, Any]:
    both = _both(pairs, final)
    matrix = {a: {b: 0 for b in OUTCOMES} for a in OUTCOMES}
    for a, b in both:
        matrix[a][b] += 1
    decisive = [r["winner"] for p in pairs for r in final[p.id].values() if r["winner"] in ("first", "second")]
    by_stronger_at = {at: shares((final[p.id][o]["outcome"] for p in pairs
                                  if final[p.id][o]["outcome"] != "failed"), OUTCOMES)
                      for at, o in (("first", "stronger-first"), ("second", "stronger-second"))}
    table = strategies(pairs, final)
    best, reason = recommend(table)
    return {"flip": shares(("flip" if a != b else "same" for a, b in both), ("flip", "same")),
            "flip_matrix": matrix, "first_position": shares(decisive, ("first", "second")),
            "accuracy_by_stronger_position": by_stronger_at, "strategies": table, "recommended": best,
            "reason": reason}


def length_preference(pairs: list[LadderPair], final: dict, shares: Shares) -> dict[str, Any]:
    """How often the longer text wins: over all pairs whose lengths differ, and where it is the weaker one."""
    every, weaker_longer = [], []
    for p in pairs:
        longer = longer_side(p)
        if longer is None:
            continue
        for r in final[p.id].values():
            if r["outcome"] in ("stronger", "weaker"):
                won = "longer" if r["outcome"] == longer else "shorter"
                every.append(won)
                if longer == "weaker":
                    weaker_longer.append(won)
    sides = ("longer", "shorter")
    return {"all": shares(every, sides), "longer_is_weaker": shares(weaker_longer, sides)}


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def reliability(history: list[dict[str, Any]], shares: Shares) -> dict[str, Any]:
    failed = [r for r in history if r["outcome"] == "failed"]
    lat = [float(r.get("latency_s") or 0.0) for r in history if r.get("attempts")]
    answered = [r for r in history if r.get("prompt_tokens")]
    cached = [r for r in answered if r.get("cached_prompt_tokens") is not None]

    def mean(key: str, rows: list[dict[str, Any]]) -> float | None:
        return sum(float(r.get(key) or 0) for r in rows) / len(rows) if rows else None

    prompt_sum = sum(r["prompt_tokens"] for r in answered)  # a judgment without a cache hit counts as 0 cached
    return {
        "failure": shares(("failed" if r["outcome"] == "failed" else "ok" for r in history), ("failed", "ok")),
        "failures_by_reason": dict(Counter(failure_kind(r.get("reason")) for r in failed).most_common()),
        "latency_s": {"p50": _percentile(lat, 50), "p95": _percentile(lat, 95), "mean": mean("latency_s", history),
                      "max": max(lat) if lat else None, "n": len(lat)},
        "attempts_mean": mean("attempts", history),
        "tokens": {"prompt_per_judgment": mean("prompt_tokens", answered),
                   "completion_per_judgment": mean("completion_tokens", answered),
                   "cached_share": (100.0 * sum(r["cached_prompt_tokens"] for r in cached) / prompt_sum
                                    if cached and prompt_sum else None),
                   "cached_reported": len(cached), "n": len(answered)},
    }
