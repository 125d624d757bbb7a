"""`writing-rl data build|check`: turn a JSONL file into training parquet, and validate a data directory."""

from __future__ import annotations

import argparse
import os

from ..data.build import build_dataset, read_jsonl
from ..data.check import check_dataset
from ..data.schema import DEFAULT_DATA_SOURCE
from .common import add_progress_option, cannot_write, fail, print_json


def _judge_chars_default() -> int:
    value = os.environ.get("JUDGE_MAX_CHARS", "48000")
    return int(value) if value.strip().isdigit() else 48000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build training parquet from JSONL, or check a data directory")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="{build,check}")

    b = dsub.add_parser("build", help="build train.parquet / test.parquet from a JSONL file")
    b.add_argument("--input", required=True, help="JSONL: prompt (or query), references (or target), "
                   "optional criteria, reference_scores, id")
    b.add_argument("--out", required=True, help="output directory")
    b.add_argument("--test-size", type=int, default=0, help="rows moved to test.parquet (default 0: train only)")
    b.add_argument("--system-prompt", default="default", help="default, think, none, or a text file")
    b.add_argument("--seed", type=int, default=0, help="seed of the shuffle that picks test rows")
    b.add_argument("--data-source", default=DEFAULT_DATA_SOURCE, help="data_source column value")
    b.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_progress_option(b, shows_progress=False)
    b.set_defaults(func=run_build)

    c = dsub.add_parser("check", help="validate train.parquet (and test.parquet) in a data directory")
    c.add_argument("dir", help="data directory")
    c.add_argument("--tokenizer", help="tokenizer path (with --max-prompt-length: check prompt lengths)")
    c.add_argument("--max-prompt-length", type=int, help="longest prompt in tokens, as data.max_prompt_length")
    c.add_argument("--judge-max-chars", type=int, default=_judge_chars_default(),
                   help="warn about references longer than this (default $JUDGE_MAX_CHARS or 48000; 0: off)")
    c.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    c.add_argument("--json", action="store_true", help="print the problems as a JSON list")
    add_progress_option(c, shows_progress=True)
    c.set_defaults(func=run_check)


def run_build(args: argparse.Namespace) -> int:
    try:
        rows, labels = read_jsonl(args.input)
        s = build_dataset(rows, args.out, test_size=args.test_size, system_prompt=args.system_prompt,
                          seed=args.seed, data_source=args.data_source, labels=labels)
    except OSError as e:
        return fail(cannot_write(args.out, e, "--out"))
    if args.json:
        print_json(s)
        return 0
    rp, rc = s["references_per_row"], s["reference_chars"]
    print(f"rows: {s['rows']} (train {s['train_rows']}, test {s['test_rows']}); "
          f"{s['cjk_rows']} with CJK text, {s['rows'] - s['cjk_rows']} without")
    print(f"references per row: min {rp['min']}, mean {rp['mean']}, max {rp['max']}; "
          f"characters per reference: min {rc['min']}, mean {rc['mean']}, max {rc['max']}")
    print(f"criteria: {s['with_criteria']} with, {s['without_criteria']} without; "
          f"reference_scores on {s['with_reference_scores']} rows; system prompt: {s['system_prompt']}")
    print(f"wrote {s['files']['train']}")
    if s["files"]["test"]:
        print(f"wrote {s['files']['test']}")
    else:
        print("no test split (--test-size 0): wrote train.parquet only"
              + ("; removed the old test.parquet" if s["removed_stale_test"] else ""))
    return 0


def run_check(args: argparse.Namespace) -> int:
    problems = check_dataset(args.dir, tokenizer_path=args.tokenizer, max_prompt_length=args.max_prompt_length,
                             judge_max_chars=args.judge_max_chars or None, show_progress=not args.no_progress)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if args.json:
        print_json([p.to_dict() for p in problems])
    else:
        if problems:
            rows = [("file", "row", "severity", "field", "message")] + [
                (p.file, "-" if p.row is None else str(p.row), p.severity, p.field or "-", p.message) for p in problems]
            widths = [max(len(r[k]) for r in rows) for k in range(4)]
            for r in rows:
                print("  ".join(r[k].ljust(widths[k]) for k in range(4)) + "  " + r[4])
        print(f"{args.dir}: {errors} error(s), {warnings} warning(s)" + ("" if problems else " - clean"))
    return 1 if errors or (warnings and args.strict) else 0
