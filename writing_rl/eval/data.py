"""Benchmark rows and responses files for evaluation: loading, matching by id, errors naming file and line.

Benchmark rows are read by ``writing_rl.calls.rows`` (``load_benchmark``; an ``Item`` is its ``Row``).

Responses files are JSON lines ``{"id": <row id>, "response": "<text>"}`` (``index`` is accepted
for ``id``). A file without any id fields is matched to the benchmark rows by position and must
have one line per row. Rows written by ``writing-rl eval generate`` may also be failures
(``"response": null, "error": "..."``); the last successful row of an id wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..calls.errors import InputError
from ..calls.log import iter_jsonl
from ..calls.rows import Row, norm_id, read_rows

EvalInputError = InputError  # evaluation's input errors are the model-calling stack's
Item = Row  # a benchmark row

__all__ = ["EvalInputError", "Item", "ResponseRecord", "answered", "items_from_responses", "load_benchmark",
           "load_responses", "norm_id"]


@dataclass
class ResponseRecord:
    id: str
    text: str | None
    error: str | None
    source: str
    prompt: str | None = None


def answered(
    items: list[Item], responses: dict[str, ResponseRecord]
) -> tuple[list[tuple[Item, str]], list[dict[str, Any]]]:
    """The items that have a response, with its text, and a ``response`` failure for each that has none."""
    found, failures = [], []
    for it in items:
        rec = responses.get(it.id)
        if rec is None or rec.text is None:
            failures.append({"id": it.id, "stage": "response",
                             "error": rec.error if rec else "no response in the responses file"})
        else:
            found.append((it, rec.text))
    return found, failures


def items_from_responses(responses: dict[str, ResponseRecord]) -> list[Item]:
    """Benchmark rows made from a responses file's own ``prompt`` fields (when no benchmark file is given)."""
    items = []
    for rid, rec in responses.items():
        if not rec.prompt:
            raise EvalInputError(f"{rec.source}: no 'prompt' to judge against; pass --data with the benchmark")
        items.append(Item(rid, rec.prompt, [{"role": "user", "content": rec.prompt}], rec.source))
    return items


def load_benchmark(path: str | Path) -> list[Item]:
    """Read a benchmark file (JSON lines or parquet); ids must be unique."""
    return read_rows(path, "benchmark file")


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
