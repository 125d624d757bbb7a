"""`writing-rl preflight`: catch data, index, judge, GPU and wandb mistakes before GPU hours are spent."""

from __future__ import annotations

import argparse
import sys

from .common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preflight", help="check data, index file, judge, GPUs and wandb before training")
    p.add_argument("--data-dir", required=True, help="folder with train.parquet (and test.parquet)")
    p.add_argument("--index-file", required=True, help="running_file/index_<experiment>.json")
    p.add_argument("--tokenizer", help="model or tokenizer path, for the prompt-length check")
    p.add_argument("--max-prompt-length", type=int, help="data.max_prompt_length")
    p.add_argument("--train-batch-size", type=int, default=32)
    p.add_argument("--rollout-n", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--total-steps", type=int, help="trainer.total_training_steps, if set")
    p.add_argument("--strategy", default="position-disadvantage")
    p.add_argument("--n-gpus", type=int, help="GPUs the run expects on this node (N_GPUS)")
    p.add_argument("--skip-judge", action="store_true", help="do not call the judge (offline checks only)")
    p.add_argument("--require-gpu", action="store_true", help="a missing GPU is blocking (training runs)")
    p.add_argument("--slow-judge-s", type=float, default=60.0, help="warn when one comparison takes longer")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..preflight import run_preflight

    report = run_preflight(args)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.table(), file=sys.stdout)
    return 0 if report.ok else 1
