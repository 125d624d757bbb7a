"""The index file as its one writer sees it: what it last wrote or adopted, and writes that lose no edit.

A user may save an edit of ``index_<experiment>.json`` at any moment, by rename (most editors,
``mv``) or in place (``open(path, "w")``, ``cat > file``). The owner must neither overwrite one
unseen nor reject one it caught half-written:

* ``read_settled``: a file that does not parse may be an in-place save in progress; it is re-read
  every 50 ms until it parses or its bytes stop changing (at most 2 s).
* ``swap_in``: a compare-and-swap write. The new content goes into a temp file that is exchanged
  with whatever is at the path in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); the file it
  displaced is then compared with what the owner last wrote or adopted. If it differs, an edit landed
  in the meantime: it is exchanged straight back and ``on_edit`` merges it (or keeps it aside as
  rejected); merged content is swapped in the same way. Readers and a ``kill -9`` always find a
  complete file at the path, and never the owner's content without an edit saved before it.
  Where the file system cannot exchange, the comparison runs immediately before ``os.replace``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from ..atomic import atomic_write_bytes, exchange, fsync_dir, write_temp

SETTLE_STEP_S = 0.05
SETTLE_QUIET_S = 1.0  # an invalid file unchanged this long is what the user saved, not a save in progress
SETTLE_MAX_S = 5.0
MAX_ROUNDS = 20
MAX_MERGES_BEFORE_WRITE = 2


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when there is no file at the path (it may be mid-rename)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def signature(path: Path) -> tuple[int, int, int] | None:
    """Which file is at ``path`` and whether it was written to: (inode, size, modification time)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def read_with_signature(path: Path) -> tuple[bytes | None, tuple[int, int, int] | None]:
    """The file's bytes and the signature of the very file read (None, None when there is none)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
            st = os.fstat(f.fileno())
    except FileNotFoundError:
        return None, None
    return data, (st.st_ino, st.st_size, st.st_mtime_ns)


def _same(data: bytes | None, other: bytes | None) -> bool:
    return data is not None and other is not None and digest(data) == digest(other)


def read_settled(path: Path, data: bytes | None, valid: Callable[[bytes], bool]) -> bytes | None:
    """``data`` (just read from ``path``), or, while it is invalid and still changing, a later read.

    Returns once the content is valid, or has not changed for ``SETTLE_QUIET_S``, or after ``SETTLE_MAX_S``.
    """
    deadline = time.monotonic() + SETTLE_MAX_S
    quiet_since = time.monotonic()
    while data is not None and not valid(data) and time.monotonic() < deadline:
        if time.monotonic() - quiet_since >= SETTLE_QUIET_S:
            break
        time.sleep(SETTLE_STEP_S)
        again = read_bytes(path)
        if again is not None and again != data:
            data, quiet_since = again, time.monotonic()
    return data


class IndexFile:
    """Compare-and-swap access to one index file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], known: bytes | None = None) -> None:
        self.path = Path(path)
        self.known: bytes | None = None
        self._known_digest: bytes | None = None
        self.set_known(known)

    def set_known(self, data: bytes | None) -> None:
        """Record ``data`` as the content the file holds by the owner's account."""
        self.known = data
        self._known_digest = None if data is None else digest(data)

    def is_known(self, data: bytes | None) -> bool:
        return data is not None and self._known_digest is not None and digest(data) == self._known_digest

    def read(self) -> bytes | None:
        return read_bytes(self.path)

    def keep_rejected(self, data: bytes, where: Path | None = None) -> Path:
        """Keep a rejected edit beside the index as ``<name>.rejected-<UTC time>`` (never overwriting one).

        With ``where`` (the file holding the edit) the kept copy is a hard link to that very file, so
        anything an in-place save still writes into it lands in the copy too; else ``data`` is written.
        """
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        target = self.path.with_name(f"{self.path.name}.rejected-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.rejected-{stamp}-{n}")
        if where is not None:
            try:
                os.link(where, target)
                return target
            except OSError:  # no hard links here, or the file is gone: keep the bytes that were judged
                pass
        atomic_write_bytes(target, data)
        return target

    def swap_in(self, payload: bytes, valid: Callable[[bytes], bool],
                on_edit: Callable[[bytes, bytes | None, Path], bytes | None]) -> bool:
        """Put ``payload`` at the path without losing an edit that landed since the last write or adoption.

        ``on_edit(edit, base, where)`` gets an edit's bytes, the content it was made from and the file
        holding it; it returns the content to write instead (the edit merged), or None to keep ``payload``
        (the edit was kept aside). The new file is written first; then the path is read and compared
        (so a reader never sees the owner's content without an edit saved earlier), and the file is
        exchanged in at once; if the file it displaced is not the one just read (a save in the
        microseconds between), it is exchanged straight back and merged in the next round. If edits keep
        arriving faster than one can be merged, the newest is left at the path with its base recorded as
        known, for the next sync to merge; then False is returned (the index holds the user's file until
        the next step's write).
        """
        expected = self.known  # what the path holds if nobody edited it
        merged_before = 0
        tmp: Path | None = None
        try:
            for _ in range(MAX_ROUNDS):
                if tmp is None:  # written before the check, so the check-to-exchange gap stays microseconds
                    tmp = write_temp(self.path, payload)
                current, seen = read_with_signature(self.path)
                if current is not None and not _same(current, expected):
                    if merged_before >= MAX_MERGES_BEFORE_WRITE:  # an edit storm: the next sync merges the newest
                        self.set_known(expected)
                        return False
                    current = read_settled(self.path, current, valid) or current  # an in-place save in progress
                    merged = on_edit(current, expected, self.path)
                    merged_before += 1
                    expected = current
                    if merged is not None and merged != payload:
                        payload = merged
                        tmp.unlink(missing_ok=True)
                        tmp = None
                    continue
                if current is None:  # no file at the path (deleted, or an editor mid-rename)
                    try:
                        os.link(tmp, self.path)  # never clobbers a file that appeared meanwhile
                    except FileExistsError:
                        continue
                    break
                try:
                    swapped = exchange(tmp, self.path)
                except FileNotFoundError:
                    continue
                if not swapped:  # no atomic exchange on this file system: a window of microseconds remains
                    os.replace(tmp, self.path)
                    tmp = None
                    break
                # tmp now holds the file displaced: it must be the very file just read and compared
                if signature(tmp) == seen and _same(read_bytes(tmp), expected):
                    break
                if not exchange(tmp, self.path):  # pragma: no cover - the exchange worked a moment ago
                    break
                # the edit is back at the path (merged next round); tmp normally holds the owner's content again
                newer = read_bytes(tmp)
                if newer is not None and not _same(newer, payload):  # yet another save, within microseconds
                    merged = on_edit(read_settled(tmp, newer, valid) or newer, payload, tmp)
                    payload = merged if merged is not None else payload
                    tmp.unlink(missing_ok=True)
                    tmp = None
            else:  # pragma: no cover - a save in the microseconds before each of 20 exchanges
                atomic_write_bytes(self.path, payload)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        fsync_dir(self.path.parent)
        self.set_known(payload)
        return True
