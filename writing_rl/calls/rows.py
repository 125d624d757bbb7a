"""Benchmark rows: the one reader of instruction files, for selection and evaluation alike.

A file is JSON lines (WritingBench: ``index, domain1, domain2, query, checklist``; LongBench-Write:
``prompt, type, length``; any row with ``query`` or ``prompt``) or a training parquet in the
project's schema (``prompt`` messages and ``reward_model.ground_truth``). A row's id is its
``index`` or ``id`` field (text or a whole number), else its line number (counting from 1; for
parquet its position from 0); ids compare as text and must be unique. Errors name the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..data.schema import GroundTruth, GroundTruthError
from ..judge.criteria import decode_criteria
from .errors import InputError
from .log import iter_jsonl


@dataclass
class Row:
    """One benchmark row: its id, the instruction, the chat messages to answer, all its fields."""

    id: str
    question: str
    messages: list[dict[str, str]]
    source: str
    fields: dict[str, Any] = field(default_factory=dict)
    position: int = 0
    raw_id: Any = None

    @property
    def criteria(self) -> Any:
        return decode_criteria(self.fields.get("checklist", self.fields.get("criteria")))

    @property
    def references(self) -> list[str] | None:
        refs = self.fields.get("references", self.fields.get("target"))
        if refs is None:
            return None
        if isinstance(refs, str):
            return [refs]
        return [str(r) for r in refs]


def norm_id(value: Any) -> str:
    """Ids compare as text, so ``367`` in one file matches ``"367"`` in another."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def ground_truth(row: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A training-format row's ``reward_model.ground_truth``, read by the one ``GroundTruth`` parser (None for a
    benchmark row, which has no ``reward_model``)."""
    rm = row.get("reward_model")
    if not isinstance(rm, dict):
        return None
    try:
        return GroundTruth.parse(rm.get("ground_truth"), (row.get("extra_info") or {}).get("index")).raw
    except GroundTruthError as e:
        raise InputError(f"{where}: {e}") from None


def _plain(value: Any) -> Any:
    """Numpy arrays / pyarrow structs from parquet into lists and dicts."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _messages(prompt: Any, where: str) -> tuple[str, list[dict[str, str]]]:
    if isinstance(prompt, str):
        if not prompt.strip():
            raise InputError(f"{where}: the instruction is empty")
        return prompt, [{"role": "user", "content": prompt}]
    if isinstance(prompt, list) and prompt and all(isinstance(m, dict) for m in prompt):
        msgs = [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in prompt]
        users = [m["content"] for m in msgs if m["role"] == "user"]
        if not users or not users[-1].strip():
            raise InputError(f"{where}: the prompt messages have no non-empty user message")
        return users[-1], msgs
    raise InputError(f"{where}: 'prompt' must be text or a list of chat messages")


def row_from(row: dict[str, Any], default_id: Any, where: str, position: int = 0) -> Row:
    """One row of a benchmark or training file; errors name ``where``."""
    gt = ground_truth(row, where)
    fields = dict(row)
    if gt is not None:  # the project's training schema
        fields.update({k: v for k, v in gt.items() if k != "prompt"})
    raw_id = next((fields[k] for k in ("index", "id") if fields.get(k) is not None), default_id)
    if isinstance(raw_id, float) and raw_id.is_integer():
        raw_id = int(raw_id)
    if not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool) or not str(raw_id).strip():
        raise InputError(f"{where}: 'id'/'index' must be a non-empty string or an integer, got {raw_id!r}")
    prompt = row.get("query") if row.get("query") is not None else row.get("prompt")
    if prompt is None:
        raise InputError(f"{where}: no 'prompt' or 'query' field (the instruction to answer)")
    question, messages = _messages(prompt, where)
    if gt is not None and isinstance(gt.get("prompt"), str) and gt["prompt"].strip():
        question = gt["prompt"]
    return Row(norm_id(raw_id), question, messages, where, fields, position, raw_id)


def read_rows(path: str | Path, what: str = "benchmark file") -> list[Row]:
    """Read a benchmark file (JSON lines or parquet); ids must be unique."""
    p = Path(path)
    rows: list[Row] = []
    if p.suffix == ".parquet":
        if not p.is_file():
            raise InputError(f"{what} {p} does not exist")
        try:
            records = pq.read_table(p).to_pylist()  # plain lists and dicts; pandas would cost a second to import
        except Exception as e:  # pyarrow raises several types for a bad file
            raise InputError(f"{what} {p} is not a readable parquet file: {e}") from None
        for pos, rec in enumerate(records):
            rows.append(row_from(_plain(rec), pos, f"{p} row {pos}", pos))
    else:
        for line, obj in iter_jsonl(p, what):
            rows.append(row_from(obj, line, f"{p} line {line}", len(rows)))
    if not rows:
        raise InputError(f"{what} {p} has no rows")
    seen: dict[str, str] = {}
    for r in rows:
        if r.id in seen:
            raise InputError(f"{r.source}: id {r.id!r} also used at {seen[r.id]}; ids must be unique")
        seen[r.id] = r.source
    return rows
