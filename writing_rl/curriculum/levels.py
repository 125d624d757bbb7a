"""The level machine of Dynamic Reference Scheduling: pure, in memory, no I/O.

* Every rollout of one sample in one training step is judged against the same level: the first
  request for (sample, step) pins the level, later ones reuse it.
* ``close(step)`` applies at most one level-up per sample, when the step's outcomes meet the rule
  (``any``, ``majority`` or ``all`` of its rollouts won), capped at the sample's last reference.
* Failed judgments never count as wins; validation samples never move anything.
* Reference modes: ``dynamic`` (the levels), ``fixed:K``, ``best`` (the last reference) and
  ``self`` (level 0). Only ``dynamic`` advances.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from ..errors import WritingRLError
from .index_file import sample_key

RULES = ("any", "majority", "all")
RECREATE = "recreate it with scripts/create_index_file.py --data <train.parquet> --force"


class CurriculumError(WritingRLError, RuntimeError):
    """Data and curriculum disagree (unknown id, empty references, level out of range)."""


def parse_mode(mode: str, what: str = "reference mode") -> tuple[str, int]:
    if mode in ("dynamic", "best", "self"):
        return mode, 0
    if mode.startswith("fixed:"):
        try:
            k = int(mode.split(":", 1)[1])
        except ValueError:
            k = -1
        if k >= 0:
            return "fixed", k
    raise ValueError(f"{what} {mode!r} must be dynamic, best, self or fixed:K (K >= 0)")


@dataclass(frozen=True)
class CurriculumConfig:
    index_file: str
    experiment: str = "default"
    rule: str = "any"
    mode: str = "dynamic"
    val_mode: str = "best"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"advance rule {self.rule!r} is not one of {', '.join(RULES)}")
        parse_mode(self.mode, "mode")
        parse_mode(self.val_mode, "val_mode")


def _span(ids: list[str]) -> str:
    return f"ids {ids[0]}..{ids[-1]}" if ids else "no ids"


class LevelMachine:
    """Levels, ladders, per-step pins and the outcomes waiting for their step to close."""

    def __init__(self, cfg: CurriculumConfig, levels: dict[str, int], source: str) -> None:
        self.cfg, self.source = cfg, source
        self.mode, self.fixed_level = parse_mode(cfg.mode)
        self.val_mode, self.val_fixed = parse_mode(cfg.val_mode, "validation reference mode")
        self.levels: dict[str, int] = dict(levels)
        self.max_level: dict[str, int] = {}  # sample -> its last level (references - 1)
        self.ladders_changed = True
        self.pins: dict[int, dict[str, int]] = defaultdict(dict)  # step -> sample -> pinned level
        self.pending: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        self.current_step = 0
        self.last_closed = 0
        self.events: list[str] = []

    def note(self, msg: str) -> None:
        self.events.append(msg)

    def learn_ladders(self, max_level: dict[Any, int]) -> None:
        """Record every training sample's last level, from the data, before training.

        Raises ``CurriculumError`` naming the samples missing from the levels or beyond their ladder.
        """
        ladders: dict[str, int] = {}
        for k, v in max_level.items():
            key = sample_key(k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise CurriculumError(f"sample {key}: its last reference level must be a whole number >= 0 "
                                      f"(it needs at least one reference), got {v!r}")
            ladders[key] = v
        missing = sorted((k for k in ladders if k not in self.levels), key=int)
        if missing:  # the index file was made for other data: training would stop when such a sample comes up
            ids = sorted(self.levels, key=int)
            raise CurriculumError(
                f"{len(missing)} training sample(s) are not in {self.source} ({len(ids)} samples, {_span(ids)}), "
                f"e.g. {missing[:5]}: the index was made for other data; {RECREATE}")
        beyond = sorted((k for k, lv in self.levels.items() if k in ladders and lv > ladders[k]), key=int)
        if beyond:
            shown = ", ".join(f"sample {k} is at level {self.levels[k]} with {ladders[k] + 1} reference(s)"
                              for k in beyond[:5])
            raise CurriculumError(
                f"{self.source}: {len(beyond)} level(s) beyond the sample's last reference ({shown}"
                f"{', ...' if len(beyond) > 5 else ''}); levels are 0-based: fix the file, or {RECREATE}")
        if ladders != {k: self.max_level.get(k) for k in ladders}:
            self.max_level.update(ladders)
            self.ladders_changed = True

    def level_for(self, sample_id: Any, step: int, n_refs: int, validation: bool = False) -> int:
        """The reference level to judge this rollout against (pinned per sample and step)."""
        key = sample_key(sample_id)
        if n_refs < 1:
            raise CurriculumError(f"sample {key} has an empty reference list (reward_model.ground_truth.target)")
        if validation:
            mode, k = self.val_mode, self.val_fixed
        else:
            self.current_step = max(self.current_step, step)
            mode, k = self.mode, self.fixed_level
            if key not in self.levels:
                ids = sorted(self.levels, key=int)
                raise CurriculumError(f"sample {key} is not in {self.source} ({len(ids)} samples, {_span(ids)}): "
                                      f"the index was made for other data; {RECREATE}")
            if self.max_level.get(key) != n_refs - 1:
                self.max_level[key] = n_refs - 1
                self.ladders_changed = True
        if mode == "best":
            return n_refs - 1
        if mode == "self":
            return 0
        if mode == "fixed":
            return min(k, n_refs - 1)
        step_pins = self.pins[step]
        pin = step_pins.get(key)
        if pin is None:
            pin = self.levels[key]
            if pin > n_refs - 1:
                raise CurriculumError(f"sample {key} is at level {pin} in {self.source} but has only {n_refs} "
                                      "reference(s); fix the file (levels are 0-based) or the data")
            step_pins[key] = pin
        return pin

    def record(self, sample_id: Any, step: int, outcome: str) -> None:
        """One training judgment's outcome, kept until its step closes (a late one is counted, not used)."""
        key = sample_key(sample_id)
        if step <= self.last_closed:
            self.note(f"late judgment for sample {key} of finalized step {step}: counted, not used to advance")
        else:
            self.pending[step][key].append(outcome)

    def advances(self, outcomes: list[str]) -> bool:
        wins = outcomes.count("win")
        if self.cfg.rule == "any":
            return wins >= 1
        if self.cfg.rule == "majority":
            return wins * 2 > len(outcomes)
        return wins == len(outcomes) and wins > 0

    def close(self, step: int) -> int:
        """Apply the level-ups of every open step up to ``step``; the number of samples advanced."""
        advanced = 0
        levels, max_level = self.levels, self.max_level
        for s in sorted(k for k in list(self.pending) if k <= step):
            pins = self.pins.get(s, {})
            for key, outcomes in self.pending.pop(s).items():
                pinned = pins.get(key)
                if self.mode != "dynamic" or pinned is None or not self.advances(outcomes):
                    continue
                if levels.get(key) != pinned:
                    self.note(f"sample {key}: level was edited during step {s}; its wins in that step are ignored")
                    continue
                if pinned < max_level.get(key, pinned):
                    levels[key] = pinned + 1
                    advanced += 1
        for s in [k for k in self.pins if k <= step]:
            del self.pins[s]
        self.last_closed = step
        self.current_step = max(self.current_step, step)
        return advanced

    def histogram(self) -> dict[str, int]:
        c = Counter(self.levels.values())
        return {str(k): c[k] for k in sorted(c)}

    def metrics(self, advanced: int) -> dict[str, float]:
        """The step's reference-level metrics: level mean and max, share at the last level, samples advanced."""
        m: dict[str, float] = {}
        levels = list(self.levels.values())
        m["writing_rl/level_mean"] = sum(levels) / len(levels) if levels else 0.0
        m["writing_rl/level_max"] = float(max(levels)) if levels else 0.0
        known = at_last = 0
        for k, v in self.levels.items():
            top = self.max_level.get(k)
            if top is not None:
                known += 1
                at_last += v >= top
        m["writing_rl/at_last_level_share"] = at_last / known if known else 0.0
        m["writing_rl/advanced"] = float(advanced)
        return m
