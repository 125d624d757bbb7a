"""Per-sample criteria: the one reader (text, JSON text, list of strings, checklist objects) and renderer."""

from __future__ import annotations

import json
from typing import Any

from .errors import JudgeInputError


def decode_criteria(value: Any) -> Any:
    """Structured criteria stored as JSON text (parquet keeps one column type) decoded; anything else as is."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in "[{":
            try:
                return json.loads(stripped)
            except json.JSONDecodeError:
                return value
    return value


def criteria_problems(value: Any) -> list[str]:
    """Every problem with criteria given as data (empty items, items without text), one line each."""
    if value is None or isinstance(value, str):
        return []
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        return [f"'criteria' must be text, a list of strings or checklist objects, got {type(value).__name__}"]
    problems = []
    for j, c in enumerate(items):
        if isinstance(c, str):
            if not c.strip():
                problems.append(f"criteria[{j}] is empty; remove it")
        elif isinstance(c, dict):
            if not any(isinstance(c.get(k), str) and c[k].strip() for k in ("name", "criteria_description")):
                problems.append(f"criteria[{j}] needs a non-empty 'name' or 'criteria_description'")
        else:
            problems.append(f"criteria[{j}] must be a string or an object, got {type(c).__name__}")
    return problems


def format_criteria(criteria: Any) -> str:
    """Render criteria (text, a list of strings, or WritingBench-style dicts) as a bullet list."""
    if criteria is None:
        return ""
    if isinstance(criteria, str):
        decoded = decode_criteria(criteria)
        return criteria.strip() if isinstance(decoded, str) else format_criteria(decoded)
    if isinstance(criteria, dict):
        criteria = [criteria]
    if not isinstance(criteria, (list, tuple)):
        raise JudgeInputError(
            f"the criteria must be text, a list of strings or checklist objects, got {type(criteria).__name__}",
            "criteria")
    lines = []
    for j, c in enumerate(criteria):
        if isinstance(c, dict):
            name = str(c.get("name") or c.get("title") or "").strip()
            desc = str(c.get("criteria_description") or c.get("description") or "").strip()
            lines.append(f"- {name}: {desc}" if name and desc else f"- {name or desc}")
        elif isinstance(c, str):
            lines.append(f"- {c.strip()}")
        else:
            raise JudgeInputError(f"criteria item {j} must be text or a checklist object, got {type(c).__name__}",
                                  "criteria")
    return "\n".join(line for line in lines if line.strip("- "))
