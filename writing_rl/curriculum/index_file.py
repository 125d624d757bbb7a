"""The index file ``running_file/index_<experiment>.json``: atomic writes, strict reads, creation.

Layout (the original project's): one JSON object mapping each sample id, as a string, to the
index of its current reference. Everything else lives in ``index_<experiment>.state.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_json

__all__ = ["IndexFileError", "atomic_write_json", "create_index", "parse_index", "read_index", "sample_key",
           "state_path"]


class IndexFileError(ValueError):
    """The index file is missing, unreadable or invalid; the message says how to fix it."""


def sample_key(sample_id: Any) -> str:
    """Normalise an id (int in the data, str in JSON) to the JSON spelling; reject anything else."""
    if isinstance(sample_id, bool):
        raise IndexFileError(f"sample id {sample_id!r} is not an integer")
    if isinstance(sample_id, int):
        return str(sample_id)
    if hasattr(sample_id, "item") and not isinstance(sample_id, str):  # numpy scalars
        return sample_key(sample_id.item())
    if isinstance(sample_id, float) and sample_id.is_integer():
        return str(int(sample_id))
    if isinstance(sample_id, str) and sample_id.strip().lstrip("-").isdigit():
        return str(int(sample_id.strip()))
    raise IndexFileError(
        f"sample id {sample_id!r} is not an integer (ids are 0..N-1, as built by writing-rl data build)"
    )


def parse_index(text: str, source: str) -> dict[str, int]:
    """Parse and validate index JSON text; every problem is named in one error."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise IndexFileError(f"{source} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    if not isinstance(data, dict):
        raise IndexFileError(f"{source} must be a JSON object mapping sample ids to levels, got {type(data).__name__}")
    out: dict[str, int] = {}
    problems = []
    for k, v in data.items():
        try:
            key = sample_key(k)
        except IndexFileError as e:
            problems.append(str(e))
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            problems.append(f"sample {k}: level {v!r} must be a non-negative integer")
            continue
        out[key] = v
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        raise IndexFileError(f"{source}: {shown}")
    return out


def read_index(path: str | os.PathLike[str]) -> dict[str, int]:
    p = Path(path)
    if not p.is_file():
        raise IndexFileError(
            f"index file {p} does not exist: create it with "
            f"`python scripts/create_index_file.py --experiment <name> --data <train.parquet>`"
        )
    return parse_index(p.read_text(encoding="utf-8"), str(p))


def create_index(path: str | os.PathLike[str], ids: Iterable[Any], *, overwrite: bool = False) -> dict[str, int]:
    """Write a fresh index (every sample at level 0); refuse to replace an existing file unless asked."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise FileExistsError(
            f"{p} already exists (a running or finished experiment's curriculum); pass --force to overwrite it"
        )
    index = {sample_key(i): 0 for i in ids}
    atomic_write_json(p, index)
    return index


def state_path(index_path: str | os.PathLike[str]) -> Path:
    """The sidecar file beside the index: step, history and everything that is not a level."""
    p = Path(index_path)
    stem = p.name[:-5] if p.name.endswith(".json") else p.name
    return p.with_name(f"{stem}.state.json")
