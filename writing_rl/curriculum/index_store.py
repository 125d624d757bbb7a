"""The index file and its sidecar as the level machine's one store: edits read, merged or rejected; atomic writes.

* ``peek``: at a step's first level request, a valid edit of the index file is taken into the levels
  (in memory only: reading a level writes nothing). An invalid or deleted file waits for the close.
* ``sync`` (at the step close): the same, and an invalid edit is kept aside as ``<file>.rejected-<time>``
  with the last good state written back; a deleted file is written back.
* ``write_index``: a compare-and-swap write (``index_sync.py``): an edit saved while the step closes is
  merged (its values win) or rejected the same way; an edit saved in place is re-read until complete.
* ``write_sidecar``: step, config, history and each sample's last level, beside the index.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text, remove_orphan_temps
from .index_file import IndexFileError, decode_index, read_sidecar, state_path
from .index_sync import IndexFile, digest, read_bytes, read_settled
from .levels import LevelMachine

log = logging.getLogger("writing_rl.curriculum")


def parses(data: bytes) -> bool:
    """Whether ``data`` is complete JSON (an edit saved in place may be caught half-written)."""
    try:
        json.loads(data)
        return True
    except (ValueError, RecursionError):
        return False


class IndexStore:
    """Reads and writes the files of one curriculum for its ``LevelMachine``."""

    def __init__(self, machine: LevelMachine, index_path: Path) -> None:
        self.machine = machine
        self.index_path = index_path
        self.state_path = state_path(index_path)
        self._file = IndexFile(index_path, read_bytes(index_path))  # what the owner has seen
        self._parsed: dict[bytes, dict[str, int]] = {}  # levels of file contents already parsed, by digest
        self._max_level_json: str | None = None
        for path in (self.index_path, self.state_path):  # temp files of writers killed mid-write
            for orphan in remove_orphan_temps(path):
                log.info("[curriculum] removed %s, left by a writer that was stopped mid-write", orphan)

    def note(self, msg: str) -> None:
        self.machine.note(msg)  # logged by the state, with the machine's own notes

    def load_sidecar(self) -> dict[str, Any]:
        side, problems = read_sidecar(self.index_path)
        for problem in problems:  # the sidecar holds no levels: use what is sound, say what is not
            log.warning("[curriculum] ignoring part of the curriculum sidecar: %s", problem)
        return side

    # ------------------------------------------------------------------ edits
    def _levels_of(self, data: bytes | None) -> dict[str, int]:
        """The levels in file content the owner wrote or read before (cached: no re-parse at 100k samples)."""
        if data is None:
            return {}
        key = digest(data)
        if key not in self._parsed:
            try:
                self._parsed[key] = decode_index(data, str(self.index_path))
            except IndexFileError:
                self._parsed[key] = {}
        return self._parsed[key]

    def _remember(self, data: bytes, levels: dict[str, int]) -> None:
        if len(self._parsed) > 4:
            self._parsed.clear()
        self._parsed[digest(data)] = levels

    def check_edit(self, edited: dict[str, int]) -> str | None:
        """Why an edit of the levels cannot be taken (ids added or removed, levels beyond ladders), or None."""
        levels, max_level = self.machine.levels, self.machine.max_level
        problems = []
        unknown = sorted(set(edited) - set(levels), key=int)
        if unknown:
            problems.append(f"unknown sample id(s) {unknown[:5]}")
        missing = sorted(set(levels) - set(edited), key=int)
        if missing:
            problems.append(f"sample id(s) {missing[:5]} removed")
        beyond = sorted((k for k, v in edited.items() if k in max_level and v > max_level[k]), key=int)
        problems += [f"sample {k}: level {edited[k]} is beyond its last reference ({max_level[k]})"
                     for k in beyond[:5]]
        if len(beyond) > 5:
            problems.append(f"and {len(beyond) - 5} more level(s) beyond their last reference")
        return f"{self.index_path}: " + "; ".join(problems) if problems else None

    def _checked(self, data: bytes) -> tuple[dict[str, int] | None, str | None]:
        try:
            edited = decode_index(data, str(self.index_path))
        except IndexFileError as e:
            return None, str(e)
        problem = self.check_edit(edited)
        return (None, problem) if problem else (edited, None)

    def _take(self, edited: dict[str, int], data: bytes, base: bytes | None, when: str) -> None:
        """Take a checked edit: the samples it changed relative to ``base`` take its value; the rest keep ours."""
        self._remember(data, edited)
        before, levels = self._levels_of(base), self.machine.levels
        changed = {k: (levels[k], v) for k, v in edited.items() if before.get(k) != v and levels[k] != v}
        for k, (_, v) in changed.items():
            levels[k] = v
        self.note(f"picked up a manual edit of {self.index_path}{when}: {len(changed)} sample(s) changed"
                  + (f", e.g. {dict(list(changed.items())[:5])}" if changed else ""))

    def _apply_edit(self, data: bytes, base: bytes | None, where: Path, when: str) -> bool:
        """Take a valid edit into the levels, or keep it aside; True when taken."""
        edited, problem = self._checked(data)
        if edited is None:
            try:
                kept: Path | None = self._file.keep_rejected(data, where)
            except OSError as e:
                kept = None
                problem = f"{problem} (and it could not be kept aside: {e.strerror or e})"
            self.note(f"rejected a manual edit of the index file ({problem}); kept the last good state"
                      + (f"; your edit is saved as {kept}" if kept else ""))
            return False
        self._take(edited, data, base, when)
        return True

    def _new_edit(self, data: bytes | None) -> bytes | None:
        """``data`` (the index file's content) when it differs from what the owner last wrote or adopted (settled)."""
        if data is None or self._file.is_known(data):
            return None
        data = read_settled(self.index_path, data, parses) or data  # an in-place save may be unfinished
        return None if self._file.is_known(data) else data

    def peek(self) -> None:
        """Take a valid edit into the levels without writing anything; anything else waits for ``sync``."""
        data = self._new_edit(self._file.read())
        if data is None:
            return
        edited, _ = self._checked(data)
        if edited is not None:
            self._take(edited, data, self._file.known, "")
            self._file.set_known(data)

    def sync(self) -> None:
        """Adopt a manual edit of the index file, or keep the last good state (the edit kept aside)."""
        data = self._file.read()  # read once per close: deleted, unchanged, or an edit
        if data is None:
            self.note(f"{self.index_path} was deleted; writing the current state back")
            self.write_index()
            return
        data = self._new_edit(data)
        if data is None:
            return
        taken = self._apply_edit(data, self._file.known, self.index_path, "")
        self._file.set_known(data)  # a rejected one is kept aside: the write below replaces it as no news
        if not taken:
            self.write_index()

    def _merge_edit(self, data: bytes, base: bytes | None, where: Path) -> bytes | None:
        """An edit saved while the index was being written: merged (its changes win), or kept aside."""
        if not self._apply_edit(data, base, where, " saved while the step closed"):
            return None
        return self._index_bytes()

    # ------------------------------------------------------------------ writes
    def _index_bytes(self) -> bytes:
        levels = self.machine.levels
        data = json.dumps(levels, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._remember(data, dict(levels))
        return data

    def write_index(self) -> None:
        """Write the levels with a compare-and-swap: an edit saved meanwhile is merged or kept, never lost."""
        if not self._file.swap_in(self._index_bytes(), parses, self._merge_edit):
            self.note(f"edits of {self.index_path} kept arriving while the step closed: the newest is left in "
                      "place and merged at the next step boundary")

    def write_sidecar(self, step: int, history: list[dict[str, Any]]) -> None:
        m = self.machine
        if self._max_level_json is None or m.ladders_changed:  # serialized again only when a ladder is new
            self._max_level_json = json.dumps(m.max_level, separators=(",", ":"))
            m.ladders_changed = False
        rest = json.dumps({"experiment": m.cfg.experiment, "step": step, "config": asdict(m.cfg),
                           "history": history}, ensure_ascii=False, separators=(",", ":"))
        atomic_write_text(self.state_path, rest[:-1] + ',"max_level":' + self._max_level_json + "}")

    def keep_previous_run(self) -> str:
        """Move the sidecar of a previous run aside as ``<name>.run-<time>.json``; where it went, for the log."""
        kept = self.state_path.with_name(f"{self.state_path.name[:-5]}.run-{int(time.time())}.json")
        try:
            os.replace(self.state_path, kept)
        except OSError:
            return ""
        return f"; its history is kept in {kept}"
