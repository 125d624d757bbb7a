"""`writing-rl preflight`: catch data, index, judge, GPU and wandb mistakes before GPU hours are spent."""

from __future__ import annotations

import argparse
import sys

from ..preflight import run_preflight
from .common import add_progress_option, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preflight", help="check data, index file, judge, GPUs and wandb before training")
    p.add_argument("--data-dir", required=True, help="folder with train.parquet (and test.parquet)")
    p.add_argument("--index-file", required=True, help="running_file/index_<experiment>.json")
    p.add_argument("--tokenizer", help="model or tokenizer path, for the prompt-length check")
    p.add_argument("--max-prompt-length", type=int, help="data.max_prompt_length (MAX_PROMPT_LENGTH)")
    p.add_argument("--train-batch-size", type=int, default=16)
    p.add_argument("--rollout-n", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--total-steps", type=int, help="trainer.total_training_steps, if set")
    p.add_argument("--strategy", default="position-disadvantage")
    p.add_argument("--n-gpus-per-node", "--n-gpus", dest="n_gpus", type=int,
                   help="GPUs the run uses on each node (N_GPUS_PER_NODE)")
    g = p.add_argument_group("launch arithmetic (the launcher's settings; see writing_rl/launch_check.py)")
    g.add_argument("--nnodes", type=int, default=1, help="nodes (NNODES); total GPUs = nnodes x n-gpus-per-node")
    g.add_argument("--algo", choices=("ppo", "grpo"), default="ppo", help="ppo runs a critic, grpo a reference model")
    g.add_argument("--mini-batch-size", type=int, default=8, help="PPO_MINI_BATCH_SIZE")
    g.add_argument("--max-response-length", type=int, default=4096, help="MAX_RESPONSE_LENGTH")
    g.add_argument("--token-len", type=int, help="PPO_MAX_TOKEN_LEN_PER_GPU (default max(16384, prompt + response))")
    g.add_argument("--rollout-tp", type=int, default=1, help="ROLLOUT_TP")
    g.add_argument("--rollout-gpu-util", type=float, default=0.4, help="ROLLOUT_GPU_UTIL")
    g.add_argument("--local-judge-gpu-util", type=float, help="LOCAL_JUDGE_GPU_UTIL, when a local judge shares GPU 0")
    g.add_argument("--max-model-len", type=int, help="ROLLOUT_MAX_MODEL_LEN")
    g.add_argument("--model", help="BASE_MODEL, for its context length and attention heads")
    p.add_argument("--skip-judge", action="store_true", help="do not call the judge (offline checks only)")
    p.add_argument("--require-gpu", action="store_true", help="a missing GPU is blocking (training runs)")
    p.add_argument("--slow-judge-s", type=float, default=60.0, help="warn when one comparison takes longer")
    p.add_argument("--json", action="store_true")
    add_progress_option(p, shows_progress=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = run_preflight(args)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.table(), file=sys.stdout)
    return 0 if report.ok else 1
