"""Durable state of a selection run: append-only JSON-lines caches and atomic file writes.

A cache line is one record keyed by ``(id, model)``; the last line for a key wins. Each record is
written as one whole line and flushed at once, so a killed process loses at most the line being
written. A torn last line (no newline, not valid JSON) is ignored on reading and cut off before the
next append; a damaged line anywhere else is an error naming the line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes
from ..redact import scrub
from .models import SelectionError


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: str | Path) -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SelectionError(f"{p} is damaged ({e}); delete it and rerun the stage that writes it") from None


class JsonlCache:
    """An append-only cache of records keyed by ``(record["id"], record["model"])``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}
        self.lines = 0
        self.torn_tail = False
        self._f: Any = None
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        for i, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            last = i == len(lines)  # no newline after it
            try:
                rec = json.loads(raw.decode("utf-8"))
                if not isinstance(rec, dict) or "id" not in rec or "model" not in rec:
                    raise ValueError("not a cache record")
            except (ValueError, UnicodeDecodeError):
                if last:
                    self.torn_tail = True  # a write cut short by a kill: that result is simply redone
                    continue
                raise SelectionError(
                    f"{self.path}:{i} is not a valid cache record; delete that line (its call is redone) and rerun"
                ) from None
            self.entries[(str(rec["id"]), str(rec["model"]))] = rec
            self.lines += 1

    def get(self, id_: str, model: str) -> dict[str, Any] | None:
        return self.entries.get((id_, model))

    def open(self) -> JsonlCache:
        """Prepare for appending: cut a torn tail, end a complete last line with a newline."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                cut = data.rfind(b"\n") + 1
                with self.path.open("r+b") as f:
                    if self.torn_tail:
                        f.truncate(cut)
                    else:
                        f.seek(0, os.SEEK_END)
                        f.write(b"\n")
                self.torn_tail = False
        self._f = self.path.open("a", encoding="utf-8")
        return self

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line and flush it (call from the event-loop thread only)."""
        if self._f is None:
            self.open()
        self._f.write(scrub(json.dumps(record, ensure_ascii=False)) + "\n")  # errors may echo a key
        self._f.flush()
        self.entries[(str(record["id"]), str(record["model"]))] = record
        self.lines += 1

    def close(self) -> None:
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None

    def __enter__(self) -> JsonlCache:
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()
