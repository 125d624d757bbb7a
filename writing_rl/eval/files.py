"""File plumbing for evaluation: JSON-lines reading, the append-only result log, atomic writes.

The result logs (generated responses, judge scores) are append-only JSON lines. A run killed
mid-write leaves at most one torn last line without its newline; opening the log drops that
fragment (it was never a finished record) and appending continues. A malformed line anywhere
else is an error naming the file and line, because it means the file was edited or corrupted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ..atomic import atomic_write_bytes
from ..errors import WritingRLError
from ..redact import scrub


class EvalInputError(WritingRLError):
    """Unusable input (file, row, option); the message names the place and the fix."""


def iter_jsonl(path: str | Path, what: str, *, torn_tail_ok: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise EvalInputError(f"{what} {p} does not exist")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EvalInputError(f"{what} {p} is not valid UTF-8 (byte {e.start}); re-save it as UTF-8") from None
    lines = text.split("\n")
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            if torn_tail_ok and i == len(lines):  # no newline after it: a write cut short
                return
            raise EvalInputError(f"{what} {p} line {i}: not valid JSON ({e.msg}); fix or delete the line") from None
        if not isinstance(obj, dict):
            raise EvalInputError(f"{what} {p} line {i}: expected a JSON object, got {type(obj).__name__}")
        yield i, obj


class JsonlLog:
    """An append-only JSON-lines log; ``records`` holds what was already there when opened."""

    def __init__(self, path: str | Path, what: str = "result log") -> None:
        self.path = Path(path)
        self.what = what
        self.records: list[dict[str, Any]] = []
        if self.path.exists():
            self.records = [obj for _, obj in iter_jsonl(self.path, what, torn_tail_ok=True)]
            self._drop_torn_tail()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: TextIO | None = None

    def _drop_torn_tail(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            try:  # a complete last record that only lacks its newline is kept
                json.loads(tail.decode("utf-8"))
                with open(self.path, "ab") as fh:
                    fh.write(b"\n")
            except (UnicodeDecodeError, json.JSONDecodeError):
                with open(self.path, "r+b") as fh:
                    fh.truncate(cut)

    def append(self, record: dict[str, Any]) -> None:
        """Write one whole line and flush it (call from one thread: the event loop's)."""
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(scrub(json.dumps(record, ensure_ascii=False)) + "\n")  # errors may echo a key
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def __enter__(self) -> JsonlLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write a file all at once (see ``writing_rl.atomic``)."""
    atomic_write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)
