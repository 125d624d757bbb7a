"""Helpers shared by the CLI subcommands: reading user files, printing errors and JSON, judge options."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import WritingRLError
from ..judge import JudgeSettings, PairwiseJudge
from ..judge.templates import load_template, read_text_file
from ..redact import scrub


class CliError(WritingRLError):
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


def cannot_write(target: Any, e: OSError, option: str) -> str:
    """One line for a failed write: what could not be written, why, and which option to change."""
    if isinstance(e, (FileExistsError, NotADirectoryError)):
        blocking = Path(e.filename or target)
        while not blocking.exists() and blocking != blocking.parent:  # the first part of the path that exists
            blocking = blocking.parent
        why = f"{blocking} is a file, not a folder"
    else:
        why = (f"{e.filename}: " if e.filename and str(e.filename) != str(target) else "") + str(e.strerror or e)
    return f"cannot write {target}: {why}; choose a folder you can write to with {option}"


def print_json(obj: Any) -> None:
    print(scrub(json.dumps(obj, ensure_ascii=False, indent=None, default=str)))


def fail(msg: str, code: int = 2) -> int:
    print(f"error: {scrub(msg)}", file=sys.stderr)
    return code


def add_progress_option(p: argparse.ArgumentParser, shows_progress: bool) -> None:
    """The one progress switch of every command; a command without progress bars accepts and ignores it."""
    p.add_argument("--no-progress", action="store_true",
                   help="hide progress bars" if shows_progress else "accepted by every command; this one shows none")


def add_judge_options(p: argparse._ActionsContainer) -> None:
    """The judge settings a command may override (the rest come from the JUDGE_* variables)."""
    p.add_argument("--template", help="judge template file (default: $JUDGE_TEMPLATE or the packaged one)")
    p.add_argument("--criteria-template", help="template used when criteria are given")
    p.add_argument("--model", help="judge model (default: $JUDGE_MODEL)")
    p.add_argument("--base-url", help="OpenAI-compatible base URL or a comma-separated pool (default: "
                                      "$JUDGE_BASE_URL)")
    p.add_argument("--backend", choices=["openai", "dashscope"], help="default: $JUDGE_BACKEND or from the model")


def make_judge(args: argparse.Namespace, with_criteria: bool, **settings: object) -> PairwiseJudge:
    """A judge from ``add_judge_options`` arguments over the environment; a lone --template serves criteria too."""
    judge_settings = JudgeSettings.from_env(
        model=args.model, base_url=args.base_url, backend=args.backend,
        template=args.template, criteria_template=args.criteria_template, **settings,
    )
    lone = with_criteria and args.template and not args.criteria_template
    criteria_template = load_template(args.template, criteria=True) if lone else None
    return PairwiseJudge(judge_settings, criteria_template=criteria_template)
