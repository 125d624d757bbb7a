"""Shared by the evaluation tests: run `writing-rl` in-process through the real entry point."""

from __future__ import annotations

from writing_rl.cli.main import main


def cli(argv: list[str]) -> int:
    """``writing-rl <argv>``; returns the exit code."""
    return main(list(argv))
