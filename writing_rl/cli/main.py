"""Entry point of the `writing-rl` command: dispatches to the subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module defines register(subparsers) and sets a ``func(args) -> int`` default.
SUBCOMMANDS = ["judge_cmd", "index_cmd", "data_cmd", "preflight_cmd", "select_cmd", "eval_cmd"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="writing-rl",
        description="Writing-RL: judge, curriculum, data, selection and evaluation tools for writing RL on verl.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"writing_rl.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
