"""Benchmark rows and responses files: loading, matching by id, and errors naming file and line.

Benchmark files are JSON lines (WritingBench: ``index, domain1, domain2, query, checklist``;
LongBench-Write: ``prompt, type, length``; any row with ``prompt`` or ``query``) or a training
parquet in the project's schema (``prompt`` messages and ``reward_model.ground_truth``).
A row's id is its ``index`` or ``id`` field, else its line number (counting from 1); for parquet,
``ground_truth.id``.

Responses files are JSON lines ``{"id": <row id>, "response": "<text>"}`` (``index`` is accepted
for ``id``). A file without any id fields is matched to the benchmark rows by position and must
have one line per row. Rows written by ``writing-rl eval generate`` may also be failures
(``"response": null, "error": "..."``); the last successful row of an id wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import EvalInputError, iter_jsonl


@dataclass
class Item:
    """One benchmark row: its id, the instruction, the chat messages to generate from, its fields."""

    id: str
    question: str
    messages: list[dict[str, str]]
    source: str
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def criteria(self) -> Any:
        return _json_or_text(self.fields.get("checklist", self.fields.get("criteria")))

    @property
    def references(self) -> list[str] | None:
        refs = self.fields.get("references", self.fields.get("target"))
        if refs is None:
            return None
        if isinstance(refs, str):
            return [refs]
        return [str(r) for r in refs]


@dataclass
class ResponseRecord:
    id: str
    text: str | None
    error: str | None
    source: str
    prompt: str | None = None


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _plain(value: Any) -> Any:
    """Numpy arrays / pyarrow structs from parquet into lists and dicts."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def norm_id(value: Any) -> str:
    """Ids compare as text, so ``367`` in one file matches ``"367"`` in another."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _messages(prompt: Any, where: str) -> tuple[str, list[dict[str, str]]]:
    if isinstance(prompt, str):
        if not prompt.strip():
            raise EvalInputError(f"{where}: the instruction is empty")
        return prompt, [{"role": "user", "content": prompt}]
    if isinstance(prompt, list) and prompt and all(isinstance(m, dict) for m in prompt):
        msgs = [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in prompt]
        users = [m["content"] for m in msgs if m["role"] == "user"]
        if not users or not users[-1].strip():
            raise EvalInputError(f"{where}: the prompt messages have no non-empty user message")
        return users[-1], msgs
    raise EvalInputError(f"{where}: 'prompt' must be text or a list of chat messages")


def _item_from_row(row: dict[str, Any], default_id: Any, where: str) -> Item:
    rm = row.get("reward_model")
    gt = _json_or_text(rm.get("ground_truth")) if isinstance(rm, dict) else None
    fields = dict(row)
    if isinstance(gt, dict):  # the project's training schema
        fields.update({k: v for k, v in gt.items() if k != "prompt"})
    raw_id = next((fields[k] for k in ("index", "id") if fields.get(k) is not None), default_id)
    prompt = row.get("query") if row.get("query") is not None else row.get("prompt")
    if prompt is None:
        raise EvalInputError(f"{where}: no 'prompt' or 'query' field (the instruction to answer)")
    question, messages = _messages(prompt, where)
    if isinstance(gt, dict) and isinstance(gt.get("prompt"), str) and gt["prompt"].strip():
        question = gt["prompt"]
    return Item(norm_id(raw_id), question, messages, where, fields)


def load_benchmark(path: str | Path) -> list[Item]:
    """Read a benchmark file (JSON lines or parquet); ids must be unique."""
    p = Path(path)
    items: list[Item] = []
    if p.suffix == ".parquet":
        if not p.is_file():
            raise EvalInputError(f"benchmark file {p} does not exist")
        import pyarrow.parquet as pq

        try:
            records = pq.read_table(p).to_pylist()  # plain lists and dicts; pandas would cost a second to import
        except Exception as e:  # pyarrow raises several types for a bad file
            raise EvalInputError(f"benchmark file {p} is not a readable parquet file: {e}") from None
        for pos, rec in enumerate(records):
            items.append(_item_from_row(_plain(rec), pos, f"{p} row {pos}"))
    else:
        for line, row in iter_jsonl(p, "benchmark file"):
            items.append(_item_from_row(row, line, f"{p} line {line}"))
    if not items:
        raise EvalInputError(f"benchmark file {p} has no rows")
    seen: dict[str, str] = {}
    for it in items:
        if it.id in seen:
            raise EvalInputError(f"{it.source}: id {it.id!r} also used at {seen[it.id]}; ids must be unique")
        seen[it.id] = it.source
    return items


def load_responses(path: str | Path, items: list[Item] | None = None) -> dict[str, ResponseRecord]:
    """Read a responses file; ``items`` allow matching id-less files by position and checking ids."""
    p = Path(path)
    rows = list(iter_jsonl(p, "responses file", torn_tail_ok=True))
    if not rows:
        raise EvalInputError(f"responses file {p} is empty")
    with_id = [("id" in r or "index" in r) for _, r in rows]
    if any(with_id) and not all(with_id):
        line = rows[with_id.index(False)][0]
        raise EvalInputError(f"responses file {p} line {line}: no 'id' field, but other lines have one; "
                             "give every line the id of its benchmark row")
    positional = not any(with_id)
    if positional and (items is None or len(rows) != len(items)):
        n = "?" if items is None else len(items)
        raise EvalInputError(f"responses file {p} has no 'id' fields and {len(rows)} lines for {n} benchmark rows; "
                             "add an 'id' to each line (the row's index/id or line number)")
    out: dict[str, ResponseRecord] = {}
    for pos, (line, row) in enumerate(rows):
        where = f"{p} line {line}"
        rid = items[pos].id if positional and items else norm_id(row.get("id", row.get("index")))
        text = row.get("response")
        error = row.get("error")
        if text is None and not error:
            raise EvalInputError(f"{where}: no 'response' field (the answer text)")
        if text is not None and not isinstance(text, str):
            raise EvalInputError(f"{where}: 'response' must be text, got {type(text).__name__}")
        if positional and items and isinstance(row.get("prompt"), str) and row["prompt"] != items[pos].question:
            raise EvalInputError(f"{where}: its 'prompt' differs from benchmark row {pos + 1}; "
                                 "the files are not in the same order, add ids")
        prompt = row.get("prompt") if isinstance(row.get("prompt"), str) else row.get("query")
        rec = ResponseRecord(rid, text, None if text is not None else str(error), where,
                             prompt if isinstance(prompt, str) else None)
        prev = out.get(rid)
        if prev is not None and prev.text is not None:
            if rec.text is not None:
                raise EvalInputError(f"{where}: a second response for id {rid!r} (first at {prev.source})")
            continue  # a later failure never hides an earlier success
        out[rid] = rec
    if items is not None:
        known = {it.id for it in items}
        unknown = [rid for rid in out if rid not in known]
        if unknown:
            raise EvalInputError(f"responses file {p}: id(s) {', '.join(map(repr, unknown[:5]))} are not in the "
                                 f"benchmark file ({len(unknown)} unknown); is it the right --data file?")
    return out
