"""Read the instructions to select from: JSON lines with ``query``/``prompt`` and optional criteria.

Accepted rows (WritingBench's format included)::

    {"index": 367, "query": "...", "checklist": [{"name": ..., "criteria_description": ..., "1-2": ...}]}
    {"id": "a1", "prompt": "...", "criteria": "text" | ["criterion", ...] | [{...}, ...]}

Rows are read by the shared reader (``writing_rl.calls.rows``): the instruction id is the row's
``index`` or ``id`` field, else its line number (1-based). Selection adds its own checks: the
instruction is plain text, and criteria are well formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..calls.rows import read_rows
from ..judge.criteria import criteria_problems, decode_criteria
from .models import SelectionError


@dataclass(frozen=True)
class Instruction:
    id: str
    prompt: str
    criteria: Any = None
    source_id: Any = None
    position: int = 0


def _criteria(value: Any, where: str) -> Any:
    """The row's criteria, read and checked by the judge's one criteria reader."""
    decoded = decode_criteria(value)
    if isinstance(decoded, str):
        stripped = decoded.strip()
        if stripped[:1] in "[{":
            raise SelectionError(f"{where}: criteria look like JSON but do not parse; fix the JSON or give plain text")
        return stripped or None
    if isinstance(decoded, dict):
        decoded = [decoded]
    if not isinstance(decoded, list) or not decoded:
        raise SelectionError(f"{where}: criteria must be text, a list of strings or a list of objects")
    problems = criteria_problems(decoded)
    if problems:
        raise SelectionError(f"{where}: {problems[0]}")
    return decoded


def load_instructions(path: str | Path) -> list[Instruction]:
    """Read and validate an instructions file (``writing_rl.calls.rows``); errors name the file and the line."""
    out: list[Instruction] = []
    for row in read_rows(path, "input file"):
        if not isinstance(row.fields.get("prompt", row.fields.get("query")), str):
            raise SelectionError(f"{row.source}: 'prompt' / 'query' must be text")
        if row.fields.get("checklist") is not None and row.fields.get("criteria") is not None:
            raise SelectionError(f"{row.source} has both 'checklist' and 'criteria'; keep one of them")
        crit = row.fields.get("checklist", row.fields.get("criteria"))
        criteria = None if crit is None else _criteria(crit, row.source)
        out.append(Instruction(row.id, row.question, criteria, row.raw_id, row.position))
    return out
