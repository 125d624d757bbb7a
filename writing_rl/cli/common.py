"""Helpers shared by the CLI subcommands: reading user files, printing errors and JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..judge.templates import read_text_file


class CliError(Exception):
    """An error for the user: printed as one line, exit code 2, no traceback."""


def read_user_text(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{what} {p} does not exist")
    try:
        return read_text_file(p, what)
    except Exception as e:  # TemplateError for non-UTF-8
        raise CliError(str(e)) from None


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=None, default=str))


def fail(msg: str, code: int = 2) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return code
