"""JSON-lines files: reading with errors that name the line, and the append-only result log.

A result log holds one finished call per line (a generated response, a score, a judgment). Each
record is written as one whole line and flushed at once, so a killed process loses at most the line
being written. On reading, a torn last line (no newline after it, not a valid record) is skipped,
and cut off before the next append; a complete last record that only lacks its newline is kept. A
bad line anywhere else is an error naming the file and line: it means the file was edited or damaged.
With a ``key`` function the log also keeps the last record of each key (``get``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, TextIO

from ..redact import scrub
from .errors import InputError


def _decode(data: bytes, what: str, p: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{what} {p} is not valid UTF-8 (byte {e.start}); re-save it as UTF-8") from None


def iter_jsonl(path: str | Path, what: str, *, torn_tail_ok: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {p} does not exist")
    lines = _decode(p.read_bytes(), what, p).split("\n")
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            if torn_tail_ok and i == len(lines):  # no newline after it: a write cut short
                return
            raise InputError(f"{what} {p} line {i}: not valid JSON ({e.msg}); fix or delete the line") from None
        if not isinstance(obj, dict):
            raise InputError(f"{what} {p} line {i}: expected a JSON object, got {type(obj).__name__}")
        yield i, obj


def sha(*parts: Any) -> str:
    """A stable key for a tuple of JSON-able parts (what decides a logged result)."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def read_json(path: str | Path) -> Any:
    """A JSON file this stack wrote; a damaged one is an error saying to rerun the stage that writes it."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{p} is damaged ({e}); delete it and rerun the stage that writes it") from None


class ResultLog:
    """An append-only JSON-lines log: ``records`` in file order, ``entries`` the last record per key."""

    def __init__(self, path: str | Path, what: str = "result log",
                 key: Callable[[dict[str, Any]], Hashable] | None = None) -> None:
        self.path = Path(path)
        self.what = what
        self.key = key
        self.records: list[dict[str, Any]] = []
        self.entries: dict[Any, dict[str, Any]] = {}
        self.torn_tail = False
        self._fh: TextIO | None = None
        if self.path.exists():
            self._load()

    @property
    def lines(self) -> int:
        return len(self.records)

    def _check(self, rec: Any) -> dict[str, Any]:
        if not isinstance(rec, dict):
            raise ValueError(f"expected a JSON object, got {type(rec).__name__}")
        if self.key is not None:
            try:
                self.key(rec)
            except (KeyError, TypeError):
                raise ValueError("not a record of this log (its key fields are missing)") from None
        return rec

    def _load(self) -> None:
        lines = _decode(self.path.read_bytes(), self.what, self.path).split("\n")
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = self._check(json.loads(line))
            except ValueError as e:  # JSONDecodeError is a ValueError
                if i == len(lines):  # no newline after it: a write cut short by a kill, redone on the next run
                    self.torn_tail = True
                    continue
                raise InputError(f"{self.what} {self.path} line {i}: not a valid record ({e}); delete that line "
                                 "(its call is redone) and rerun") from None
            self._remember(rec)

    def _remember(self, rec: dict[str, Any]) -> None:
        self.records.append(rec)
        if self.key is not None:
            self.entries[self.key(rec)] = rec

    def get(self, *key: Any) -> dict[str, Any] | None:
        """The last record whose ``key(record)`` is ``key`` (a tuple of the arguments)."""
        return self.entries.get(key)

    def open(self) -> ResultLog:
        """Prepare for appending: cut a torn tail, end a complete last line with a newline."""
        if self._fh is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                with self.path.open("r+b") as fh:
                    if self.torn_tail:
                        fh.truncate(data.rfind(b"\n") + 1)
                    else:
                        fh.seek(0, os.SEEK_END)
                        fh.write(b"\n")
                self.torn_tail = False
        self._fh = self.path.open("a", encoding="utf-8")
        return self

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line and flush it (call from one thread: the event loop's)."""
        fh = self._fh or self.open()._fh
        assert fh is not None
        fh.write(scrub(json.dumps(record, ensure_ascii=False)) + "\n")  # errors may echo a key
        fh.flush()
        self._remember(record)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ResultLog:
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def by_id_and_model(rec: dict[str, Any]) -> tuple[str, str]:
    """The key of selection's caches: (instruction id, model name)."""
    return str(rec["id"]), str(rec["model"])
