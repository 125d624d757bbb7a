"""Read the instructions to select from: JSON lines with ``query``/``prompt`` and optional criteria.

Accepted rows (WritingBench's format included)::

    {"index": 367, "query": "...", "checklist": [{"name": ..., "criteria_description": ..., "1-2": ...}]}
    {"id": "a1", "prompt": "...", "criteria": "text" | ["criterion", ...] | [{...}, ...]}

The instruction id is the row's ``id`` or ``index`` field, else its line number (1-based).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .models import SelectionError


@dataclass(frozen=True)
class Instruction:
    id: str
    prompt: str
    criteria: Any = None
    source_id: Any = None
    position: int = 0


def _criteria(value: Any, where: str) -> Any:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in "[{":
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as e:
                raise SelectionError(f"{where}: criteria look like JSON but do not parse ({e.msg})") from None
        elif not stripped:
            return None
        else:
            return stripped
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise SelectionError(f"{where}: criteria must be text, a list of strings or a list of objects")
    for i, c in enumerate(value):
        if isinstance(c, str) and c.strip():
            continue
        if isinstance(c, dict) and (str(c.get("name") or "").strip() or str(c.get("criteria_description") or "")):
            continue
        raise SelectionError(
            f"{where}: criterion {i + 1} must be a non-empty string or an object with 'name' / "
            f"'criteria_description', got {json.dumps(c, ensure_ascii=False)[:80]}"
        )
    return value


def load_instructions(path: str | Path) -> list[Instruction]:
    """Read and validate an instructions file; errors name the file and the line."""
    p = Path(path)
    if not p.is_file():
        raise SelectionError(f"input file {p} does not exist")
    out: list[Instruction] = []
    seen: dict[str, int] = {}
    with p.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{p}:{lineno}"
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise SelectionError(f"{where} is not valid UTF-8; re-save the file as UTF-8") from None
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SelectionError(f"{where} is not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(row, dict):
                raise SelectionError(f"{where} must be a JSON object, got {type(row).__name__}")
            prompt = row.get("prompt", row.get("query"))
            if not isinstance(prompt, str) or not prompt.strip():
                raise SelectionError(f"{where} needs a non-empty text field 'prompt' or 'query'")
            if row.get("checklist") is not None and row.get("criteria") is not None:
                raise SelectionError(f"{where} has both 'checklist' and 'criteria'; keep one of them")
            crit = row.get("checklist", row.get("criteria"))
            source_id = row.get("id", row.get("index"))
            if source_id is None:
                source_id = lineno
            if not isinstance(source_id, (str, int)) or isinstance(source_id, bool) or str(source_id).strip() == "":
                raise SelectionError(f"{where}: 'id'/'index' must be a non-empty string or an integer")
            key = str(source_id).strip()
            if key in seen:
                raise SelectionError(f"{where}: id {key!r} was already used on line {seen[key]}; ids must be unique")
            seen[key] = lineno
            criteria = None if crit is None else _criteria(crit, where)
            out.append(Instruction(key, prompt, criteria, source_id, len(out)))
    if not out:
        raise SelectionError(f"input file {p} has no instructions")
    return out
