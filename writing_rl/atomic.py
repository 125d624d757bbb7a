"""Atomic file writes: temp file in the same folder, flush, fsync, ``os.replace``, then fsync the folder.

A reader, or a crash at any moment, sees either the old file or the new one, never a part. The new
file keeps the old one's permissions, or gets the usual ``0666 & ~umask`` (not ``mkstemp``'s 0600).
Temp files are named ``.<name>.<random>.tmp``; ``remove_orphan_temps`` clears those a killed writer
left behind. ``exchange`` swaps two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

TEMP_SUFFIX = ".tmp"


def current_umask() -> int:
    """The process umask, read without changing it where the kernel reports it (thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode_for(path: Path) -> int:
    """The permissions a rewrite of ``path`` should have: its current ones, else ``0666 & ~umask``."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~current_umask()


def write_temp(path: str | os.PathLike[str], data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to a fsynced temp file beside ``path`` (with ``path``'s future mode); return its path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=TEMP_SUFFIX, dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), file_mode_for(p) if mode is None else mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make renames in ``folder`` durable (best effort)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    p = Path(path)
    tmp = write_temp(p, data)
    try:
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(p.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = None) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":"))
    atomic_write_bytes(path, text.encode("utf-8"))


# ------------------------------------------------------------------ atomic exchange
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_renameat2: Any = None
_exchange_broken: set[str] = set()  # folders whose file system refused the exchange


def _libc_renameat2() -> Any:
    global _renameat2
    if _renameat2 is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2 = fn
        except (AttributeError, OSError):
            _renameat2 = False
    return _renameat2


def exchange(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Swap the files at ``a`` and ``b`` in one atomic step; False where the system cannot.

    Raises ``FileNotFoundError`` when either path is missing.
    """
    fn = _libc_renameat2()
    folder = str(Path(b).parent)
    if not fn or folder in _exchange_broken:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.ENOENT:
        raise FileNotFoundError(err, os.strerror(err), str(b))
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        _exchange_broken.add(folder)  # e.g. a file system without RENAME_EXCHANGE
        return False
    raise OSError(err, os.strerror(err), str(b))


def remove_orphan_temps(path: str | os.PathLike[str], min_age_s: float = 5.0) -> list[Path]:
    """Delete temp files of ``path`` (``.<name>.*.tmp``) that no writer touched for ``min_age_s``."""
    p = Path(path)
    removed: list[Path] = []
    now = time.time()
    try:
        candidates = list(p.parent.glob(f".{p.name}.*{TEMP_SUFFIX}"))
    except OSError:
        return removed
    for tmp in candidates:
        try:
            if now - tmp.stat().st_mtime >= min_age_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    return removed
