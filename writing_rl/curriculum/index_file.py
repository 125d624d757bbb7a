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
from ..errors import WritingRLError

__all__ = ["IndexFileError", "atomic_write_json", "check_sidecar", "create_index", "decode_index", "parse_index",
           "read_index", "read_sidecar", "sample_key", "state_path"]


class IndexFileError(WritingRLError, ValueError):
    """The index file is missing, unreadable or invalid; the message says how to fix it."""


def sample_key(sample_id: Any) -> str:
    """Normalize an id (int in the data, str in JSON) to the JSON spelling; reject anything else."""
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
    except (ValueError, RecursionError) as e:  # nesting or number lengths beyond what Python reads
        raise IndexFileError(f"{source} is not a readable JSON object ({str(e)[:100]})") from None
    if not isinstance(data, dict):
        raise IndexFileError(f"{source} must be a JSON object mapping sample ids to levels, got {type(data).__name__}")
    out: dict[str, int] = {}
    problems = []
    for k, v in data.items():
        if type(v) is int and v >= 0 and k.isascii() and k.isdigit() and (k[0] != "0" or len(k) == 1):
            out[k] = v  # the canonical spelling, as the owner writes it (the fast path at 100k samples)
            continue
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


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text of a curriculum file, or an error naming the file and the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IndexFileError(f"{source} is not valid UTF-8 (byte {e.start}: {data[e.start:e.start + 1]!r}); "
                             "re-save it as UTF-8 JSON") from None


def decode_index(data: bytes, source: str) -> dict[str, int]:
    """Parse and validate the bytes of an index file."""
    return parse_index(decode_text(data, source), source)


def read_index(path: str | os.PathLike[str]) -> dict[str, int]:
    p = Path(path)
    if not p.is_file():
        raise IndexFileError(
            f"index file {p} does not exist: create it with "
            f"`python scripts/create_index_file.py --experiment <name> --data <train.parquet>`"
        )
    try:
        data = p.read_bytes()
    except OSError as e:
        raise IndexFileError(f"cannot read the index file {p}: {e.strerror or e}") from None
    return decode_index(data, str(p))


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


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _history_entry_ok(h: Any) -> bool:
    if not isinstance(h, dict) or not _whole(h.get("step")) or not isinstance(h.get("metrics", {}), dict):
        return False
    hist = h.get("histogram")
    if not isinstance(hist, dict):
        return False
    return all(isinstance(k, str) and k.lstrip("-").isdigit() and _whole(v) for k, v in hist.items())


def check_sidecar(obj: Any, source: str) -> tuple[dict[str, Any], list[str]]:
    """The usable parts of a sidecar's JSON (``step``, ``max_level``, ``history``) and what is wrong with the rest."""
    if not isinstance(obj, dict):
        return {}, [f"{source} must be a JSON object, got {_json_type(obj)}"]
    out: dict[str, Any] = {k: v for k, v in obj.items() if k not in ("step", "max_level", "history")}
    problems: list[str] = []
    step = obj.get("step", 0)
    if _whole(step):
        out["step"] = step
    else:
        problems.append(f"{source}: 'step' must be a whole number >= 0, got {step!r}")
    max_level = {} if obj.get("max_level") is None else obj["max_level"]
    if isinstance(max_level, dict):
        clean: dict[str, int] = {}
        bad = []
        for k, v in max_level.items():
            try:
                key = sample_key(k)
            except IndexFileError:
                key = None
            if key is None or not _whole(v):
                bad.append(k)
            else:
                clean[key] = v
        if bad:
            problems.append(f"{source}: 'max_level' has {len(bad)} invalid entr{'y' if len(bad) == 1 else 'ies'} "
                            f"(sample id -> last level, a whole number), e.g. {bad[0]!r}")
        out["max_level"] = clean
    else:
        problems.append(f"{source}: 'max_level' must be an object mapping sample ids to last levels, "
                        f"got {_json_type(max_level)}")
    history = [] if obj.get("history") is None else obj["history"]
    if isinstance(history, list):
        good = [h for h in history if _history_entry_ok(h)]
        if len(good) < len(history):
            n = len(history) - len(good)
            problems.append(f"{source}: 'history' has {n} malformed entr{'y' if n == 1 else 'ies'} (each needs a "
                            "'step', a 'histogram' of level -> count and 'metrics')")
        out["history"] = good
    else:
        problems.append(f"{source}: 'history' must be a list of per-step entries, got {_json_type(history)}")
    return out, problems


def read_sidecar(index_path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[str]]:
    """The sidecar beside ``index_path``: its usable parts and its problems ({} and [] when there is none)."""
    p = state_path(index_path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return {}, []
    except OSError as e:
        return {}, [f"cannot read {p}: {e.strerror or e}"]
    try:
        obj = json.loads(decode_text(data, str(p)))
    except IndexFileError as e:
        return {}, [str(e)]
    except (ValueError, RecursionError) as e:
        return {}, [f"{p} is not valid JSON ({str(e)[:120]})"]
    return check_sidecar(obj, str(p))
