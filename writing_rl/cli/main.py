"""Entry point of the `writing-rl` command: dispatches to the subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import sys

from .. import __version__
from ..errors import WritingRLError
from ..redact import scrubbed_stdio
from .common import fail

# Each module defines register(subparsers) and sets a ``func(args) -> int`` default.
SUBCOMMANDS = ["judge_cmd", "index_cmd", "data_cmd", "preflight_cmd", "select_cmd", "eval_cmd"]


def package_version() -> str:
    """The installed package's version (its metadata); the source tree's when it is not installed."""
    try:
        return importlib.metadata.version("writing-rl")
    except importlib.metadata.PackageNotFoundError:
        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="writing-rl",
        description="Writing-RL: judge, curriculum, data, selection and evaluation tools for writing RL on verl.",
    )
    parser.add_argument("--version", action="version", version=f"writing-rl {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"writing_rl.cli.{name}").register(sub)
    return parser


def os_error_message(e: OSError) -> str:
    """One line for a file-system error, naming the path."""
    if e.filename is None:
        return str(e)
    where = f"{e.filename}" + (f" -> {e.filename2}" if e.filename2 else "")
    hint = {PermissionError: "check its permissions or choose another folder",
            NotADirectoryError: "a part of this path is a file, not a folder",
            IsADirectoryError: "it is a folder; give a file path",
            FileNotFoundError: "check the path"}.get(type(e), "check the path, free space and permissions")
    return f"{where}: {e.strerror or type(e).__name__}; {hint}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with scrubbed_stdio():  # nothing printed by any command can carry a key or a URL password
        try:
            return int(args.func(args) or 0)
        except WritingRLError as e:
            return fail(str(e))
        except OSError as e:
            return fail(os_error_message(e))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as e:  # a bug, not the user's input: still one line, the traceback on request
            if os.environ.get("WRITING_RL_TRACEBACK"):
                raise
            return fail(f"unexpected {type(e).__name__}: {e} (set WRITING_RL_TRACEBACK=1 to see where; "
                        "please report it)", code=1)


if __name__ == "__main__":
    sys.exit(main())
