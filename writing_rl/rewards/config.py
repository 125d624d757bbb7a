"""Reward settings (components, mode, layout, component knobs) and the judge-free scores of one response.

Environment: ``REWARD_COMPONENTS`` (default ``pairwise:1.0``), ``REWARD_MODE`` (``weighted`` or
``group-normalized``, default ``weighted``) and ``REWARD_LAYOUT`` (``plain`` or ``think-answer``,
default ``plain``). Every field can also come from a mapping (verl's ``reward_kwargs``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import ComponentResult, RewardConfigError
from .combine import MODES, parse_components
from .format import LAYOUTS, answer_text, check_tags, format_reward
from .length import length_reward
from .repetition import repetition_reward


@dataclass(frozen=True)
class RewardConfig:
    """How rewards are computed; ``components`` may be given as a spec string or a name -> weight dict."""

    components: dict[str, float] = field(default_factory=lambda: {"pairwise": 1.0})
    mode: str = "weighted"
    layout: str = "plain"
    think_tag: str = "think"
    answer_tag: str = "answer"
    think_opened: bool = False
    length_falloff: float = 0.5
    length_tolerance: float = 0.2
    length_missing: float = 1.0
    repetition_n: int = 5
    repetition_cjk_n: int = 8
    repetition_free: float = 0.1
    repetition_cap: float = 0.5

    def __post_init__(self) -> None:
        spec = self.components
        if isinstance(spec, Mapping):
            spec = ",".join(f"{k}:{v}" for k, v in spec.items())
        object.__setattr__(self, "components", parse_components(str(spec)))
        if self.mode not in MODES:
            raise RewardConfigError(f"REWARD_MODE={self.mode!r} is not one of {', '.join(MODES)}")
        if self.layout not in LAYOUTS:
            raise RewardConfigError(f"REWARD_LAYOUT={self.layout!r} is not one of {', '.join(LAYOUTS)}")
        if "format" in self.components and self.layout != "think-answer":
            raise RewardConfigError("the format reward needs REWARD_LAYOUT=think-answer (it checks think/answer tags)")
        check_tags(self.think_tag, self.answer_tag)
        # the component functions validate their knobs first; run them once so bad settings fail here
        length_reward("", None, None, falloff=self.length_falloff, tolerance=self.length_tolerance)
        repetition_reward("", n=self.repetition_n, cjk_n=self.repetition_cjk_n,
                          free=self.repetition_free, cap=self.repetition_cap)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> RewardConfig:
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "components": env.get("REWARD_COMPONENTS") or "pairwise:1.0",
            "mode": env.get("REWARD_MODE") or "weighted",
            "layout": env.get("REWARD_LAYOUT") or "plain",
        }
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise RewardConfigError(
                f"unknown reward setting(s) {sorted(unknown)}; known: {sorted(f.name for f in dataclasses.fields(cls))}"
            )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def local_scores(
    response: str, instruction: str | None, ground_truth: Any, config: RewardConfig
) -> dict[str, ComponentResult]:
    """Every configured component that needs no judge, scored on :func:`answer_text`.

    A response with no answer to judge (broken think-answer format, or nothing outside
    ``<think>``) scores 0 on every answer-based component, ``pairwise`` included, so the judge is
    called only for the components missing from the result.
    """
    kw = {"think_tag": config.think_tag, "answer_tag": config.answer_tag, "think_opened": config.think_opened}
    answer = answer_text(response, config.layout, **kw)
    out: dict[str, ComponentResult] = {}
    for name in config.components:
        if name == "format":
            out[name] = format_reward(response, **kw)
        elif not answer:
            out[name] = ComponentResult(0.0, {"reason": "no answer to score (empty or broken format)"})
        elif name == "length":
            out[name] = length_reward(
                answer, instruction, ground_truth, falloff=config.length_falloff,
                tolerance=config.length_tolerance, missing=config.length_missing,
            )
        elif name == "repetition":
            out[name] = repetition_reward(
                answer, n=config.repetition_n, cjk_n=config.repetition_cjk_n,
                free=config.repetition_free, cap=config.repetition_cap,
            )
    return out
