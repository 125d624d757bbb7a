"""Emit stage: one ``writing-rl data build`` row per selected instruction, with its reference ladder.

The ladder is the instruction's responses sorted by increasing score (ties in models-file order).
With ``keep_policy_reference`` (the default) the policy's own response is level 0, followed by the
competitors that scored at least as well as it; a competitor that scored below the policy would be
an easier reference than level 0, so it is left out (and counted). Without it, the ladder is the
competitors' responses only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..calls.log import ResultLog
from .inputs import Instruction
from .models import ModelsConfig, SelectionError
from .select import Candidate


def ladder(
    cand: Candidate, models: ModelsConfig, responses: ResultLog, keep_policy_reference: bool = True
) -> tuple[list[str], list[float], list[str], int]:
    """References, their scores, their models (worst first), and how many competitors were left out."""
    order = {c.name: i for i, c in enumerate(models.competitors)}
    comps = sorted(cand.competitor_scores.items(), key=lambda kv: (kv[1], order[kv[0]]))
    left_out = 0
    if keep_policy_reference:
        kept = [(m, s) for m, s in comps if s >= cand.policy_score]
        left_out = len(comps) - len(kept)
        comps = [(models.policy.name, cand.policy_score), *kept]
    texts = []
    for m, _ in comps:
        rec = responses.get(cand.id, m)
        if not rec or not rec.get("text"):
            raise SelectionError(f"instruction {cand.id}: the response of {m} is missing; rerun generate and select")
        texts.append(rec["text"])
    return texts, [round(s, 6) for _, s in comps], [m for m, _ in comps], left_out


def emit_rows(
    selected: list[Candidate],
    instructions: dict[str, Instruction],
    models: ModelsConfig,
    responses: ResultLog,
    keep_policy_reference: bool = True,
) -> tuple[list[dict[str, Any]], int]:
    """The data-build rows in selection order, and the number of competitor responses left out."""
    rows, left_out = [], 0
    for cand in selected:
        instr = instructions[cand.id]
        refs, scores, names, dropped = ladder(cand, models, responses, keep_policy_reference)
        left_out += dropped
        row: dict[str, Any] = {"id": instr.source_id, "prompt": instr.prompt, "references": refs,
                               "reference_scores": scores}
        if instr.criteria is not None:
            row["criteria"] = instr.criteria
        row.update({"reference_models": names, "p": cand.p})
        rows.append(row)
    return rows, left_out


def write_rows(rows: list[dict[str, Any]], path: str | Path) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
