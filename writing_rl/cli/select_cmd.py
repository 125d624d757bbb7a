"""`writing-rl select`: Margin-aware Data Selection, all stages (``run``) or one at a time.

Exit codes: 0 done, 2 a user error (one line on stderr), 3 stopped by ``--max-calls`` /
``--max-cost`` (rerun, with a larger budget, to continue where it stopped).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..judge.errors import JudgeConfigError, JudgeError
from ..selection.models import SelectionError
from ..selection.pipeline import REMEMBERED, Options, SelectionRun, print_warnings, remembered
from ..selection.report import stage_table
from .common import add_progress_option, fail, print_json

STAGES = ("run", "generate", "score", "select", "emit")
HELP = {
    "run": "all stages: generate, score, select, emit (and build with --build)",
    "generate": "every model answers every instruction (cached in responses.jsonl)",
    "score": "the judge scores every response 1-10 per dimension (cached in scores.jsonl)",
    "select": "compute p, drop failed/too-hard instructions, keep the top k; write the report",
    "emit": "write selected.jsonl rows for `writing-rl data build` (and parquet with --build)",
}


def _common(p: argparse.ArgumentParser, stage: str) -> None:
    p.add_argument("--work-dir", required=True, type=Path, help="where caches, report and outputs live")
    p.add_argument("--input", type=Path, help="instructions JSONL (query/prompt + optional checklist/criteria); "
                   "default: the one the last stage used in this work dir")
    p.add_argument("--models", type=Path, help="models YAML (policy, competitors, optional judge); "
                   "default: the one the last stage used")
    p.add_argument("--judge-model", help="scoring judge model (default: models file 'judge', else $JUDGE_MODEL)")
    p.add_argument("--judge-base-url", help="scoring judge base URL (default: models file, else $JUDGE_BASE_URL)")
    p.add_argument("--judge-backend", choices=["openai", "dashscope"], help="default: from the judge model name")
    p.add_argument("--score-template", type=Path, help="pointwise template with @dimension lines")
    p.add_argument("--score-criteria-template", type=Path, help="pointwise template used with per-row criteria")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary table")
    add_progress_option(p, shows_progress=True)
    p.add_argument("--quiet", dest="no_progress", action="store_true", help=argparse.SUPPRESS)  # the old name
    if stage in ("run", "generate", "score"):
        p.add_argument("--concurrency", type=int, help="requests in flight at once (default: $API_PARALLEL or 64)")
        p.add_argument("--max-calls", type=int, help="stop cleanly after this many calls in this invocation")
        p.add_argument("--max-cost", type=float, help="stop cleanly before the estimated cost (USD, from the "
                       "models file's prices) of this invocation would exceed this")
    if stage in ("run", "score"):
        p.add_argument("--parse-retries", type=int, default=2,
                       help="re-ask the judge this many times when its scores are malformed (default 2)")
    if stage in ("run", "select"):
        p.add_argument("--k", type=int, required=True, help="how many instructions to keep")
        p.add_argument("--min-best-score", type=float, default=5.0,
                       help="drop instructions whose best competitor scores below this (default 5.0)")
    if stage in ("run", "emit"):
        p.add_argument("--keep-policy-reference", action=argparse.BooleanOptionalAction, default=True,
                       help="put the policy's own response first in each reference ladder (default: on)")
        p.add_argument("--build", type=Path, metavar="DATA_DIR", help="also write train parquet to DATA_DIR")
        p.add_argument("--test-size", type=int, default=0, help="with --build: rows held out as test.parquet")
        p.add_argument("--system-prompt", default="default", help="with --build: default, think, none or a file")
        p.add_argument("--data-source", default="writing_rl", help="with --build: the data_source column")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("select", help="Margin-aware Data Selection: pick training instructions and their references")
    stages = p.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for stage in STAGES:
        sp = stages.add_parser(stage, help=HELP[stage], description=HELP[stage])
        _common(sp, stage)
        sp.set_defaults(func=run)


def _options(args: argparse.Namespace) -> Options:
    saved = remembered(args.work_dir)
    values: dict[str, Any] = {}
    for key in REMEMBERED:
        given = getattr(args, key, None)
        values[key] = given if given is not None else saved.get(key)
        if key in ("input", "models", "score_template", "score_criteria_template") and values[key] is not None:
            values[key] = Path(values[key])
    for key in ("input", "models"):
        if values[key] is None:
            raise SelectionError(f"--{key} is required (no earlier run in {args.work_dir} to take it from)")
    extra = {k: getattr(args, k) for k in (
        "k", "min_best_score", "concurrency", "max_calls", "max_cost", "parse_retries", "keep_policy_reference",
        "build", "test_size", "system_prompt", "data_source") if getattr(args, k, None) is not None}
    for key in ("max_calls", "max_cost"):
        if key in extra and extra[key] < 0:
            raise SelectionError(f"--{key.replace('_', '-')} must be >= 0, got {extra[key]}")
    return Options(work_dir=args.work_dir, progress=not args.no_progress, **values, **extra)


def run(args: argparse.Namespace) -> int:
    out: dict[str, Any] = {"work_dir": str(args.work_dir)}
    code = 0
    try:
        sel = SelectionRun(_options(args))
        print_warnings(sel)
        for stage in ("generate", "score"):
            if args.stage in (stage, "run"):
                stats = getattr(sel, stage)()
                if stats.stopped:
                    code = 3
                    print(f"{stage} stopped: {stats.stopped}; {stats.pending} items left. Rerun to continue "
                          "(finished work is cached).", file=sys.stderr)
                    break
        if code == 0 and args.stage in ("select", "run"):
            report = sel.select()
            out["counts"] = report["counts"]
            out["report"] = str(args.work_dir / "report.md")
            for w in report["warnings"]:
                print(f"warning: {w}", file=sys.stderr)
        if code == 0 and args.stage in ("emit", "run"):
            out["emit"] = sel.emit()
    except (SelectionError, JudgeConfigError, JudgeError, FileNotFoundError) as e:
        return fail(str(e))
    except KeyboardInterrupt:
        print("interrupted: finished work is cached; rerun the same command to continue", file=sys.stderr)
        return 130
    out["stages"] = sel.stages
    out["warnings"] = sel.warnings
    if args.json:
        print_json(out)
    else:
        print(stage_table(sel.stages))
        if "counts" in out:
            c = out["counts"]
            print(f"\nselected {c['selected']} of {c['instructions']} instructions "
                  f"(eligible {c['eligible']}; dropped: {c['dropped']}); report: {out['report']}")
        if "emit" in out:
            e = out["emit"]
            print(f"wrote {e['rows']} rows to {e['selected_jsonl']}")
            if "build" in e:
                print(f"built {e['build']['train_rows']} train / {e['build']['test_rows']} test rows in "
                      f"{e['build']['out_dir']}")
    return code


def main(argv: list[str] | None = None) -> int:
    """Run ``writing-rl select ...`` on its own (used by tests and subprocesses)."""
    parser = argparse.ArgumentParser(prog="writing-rl")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["select", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
