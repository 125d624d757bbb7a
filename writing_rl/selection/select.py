"""Select stage: the learning potential p of each instruction, the filter, and the top-k ranking.

p = max over competitors of their score - the policy's score (scores are 1-10 means over
dimensions). An instruction is dropped as

* ``failed`` when a generation or a score for any of its models failed (never guessed),
* ``incomplete`` when a response or score is still missing (e.g. a run stopped by its budget),
* ``too_hard`` when its best competitor scores below ``min_best_score``.

The rest are ranked by p descending; ties go to the higher best-competitor score, then to the
instruction that comes first in the input file. The first k are selected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..calls.log import ResultLog
from .generate import response_ok
from .inputs import Instruction
from .models import ModelsConfig
from .score import PointwiseScorer, score_ok


@dataclass
class Candidate:
    """An instruction with a valid score for every model."""

    id: str
    position: int
    policy_score: float
    competitor_scores: dict[str, float]

    @property
    def best(self) -> float:
        return max(self.competitor_scores.values())

    @property
    def best_model(self) -> str:
        return next(m for m, s in self.competitor_scores.items() if s == self.best)

    @property
    def p(self) -> float:
        return round(self.best - self.policy_score, 6)  # rounded so float noise cannot break a tie

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "p": self.p, "best": round(self.best, 6), "best_model": self.best_model,
                "policy_score": round(self.policy_score, 6), "competitor_scores": self.competitor_scores}


@dataclass
class Dropped:
    id: str
    position: int
    reason: str
    details: list[str] = field(default_factory=list)


@dataclass
class Selection:
    ranked: list[Candidate]
    selected: list[Candidate]
    dropped: list[Dropped]


def rank(candidates: list[Candidate], k: int, min_best_score: float) -> Selection:
    """Filter out too-hard instructions, rank the rest by p and keep the top ``k``."""
    dropped = [
        Dropped(c.id, c.position, "too_hard",
                [f"best competitor score {c.best:.2f} ({c.best_model}) < --min-best-score {min_best_score:g}"])
        for c in candidates if c.best < min_best_score
    ]
    ranked = sorted((c for c in candidates if c.best >= min_best_score), key=lambda c: (-c.p, -c.best, c.position))
    return Selection(ranked=ranked, selected=ranked[:k], dropped=dropped)


def collect(
    instructions: list[Instruction],
    models: ModelsConfig,
    responses: ResultLog,
    scores: ResultLog,
    scorer: PointwiseScorer,
) -> tuple[list[Candidate], list[Dropped]]:
    """Candidates with every score in place, and the instructions that cannot be candidates, with why."""
    candidates, dropped = [], []
    for instr in instructions:
        got: dict[str, float] = {}
        failed, missing = [], []
        for spec in models.generators:
            resp = responses.get(instr.id, spec.name)
            if not response_ok(resp, instr, spec):
                if resp is None:
                    missing.append(f"no response from {spec.name} yet")
                elif not resp.get("ok"):
                    failed.append(f"generation by {spec.name} failed: {resp.get('error')}")
                else:
                    missing.append(f"the response from {spec.name} is for an older instruction text or model")
                continue
            basis = scorer.basis(instr.prompt, resp["text"], instr.criteria)  # type: ignore[index]
            rec = scores.get(instr.id, spec.name)
            if score_ok(rec, basis):
                got[spec.name] = float(rec["score"])  # type: ignore[index]
            elif rec is not None and rec.get("basis") == basis and not rec.get("ok"):
                failed.append(f"score of {spec.name} failed: {rec.get('error')}")
            else:
                missing.append(f"{spec.name} not scored yet")
        if failed:
            dropped.append(Dropped(instr.id, instr.position, "failed", failed + missing))
        elif missing:
            dropped.append(Dropped(instr.id, instr.position, "incomplete", missing))
        else:
            comps = {c.name: got[c.name] for c in models.competitors}
            candidates.append(Candidate(instr.id, instr.position, got[models.policy.name], comps))
    return candidates, dropped
