"""`writing-rl judge audit`: measure a judge on the training data's reference ladders, or compare two audits."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..audit import LaunchSettings, audit_once, compare_audits, load_pairs, prices_from_env, write
from ..audit.report import usd
from ..eval.report import fmt, text_table
from ..judge import STRATEGIES
from .common import CliError, add_judge_options, add_progress_option, make_judge, print_json
from .eval_cmd import _guard, _out_dir

SHOWN = ("ladder_accuracy", "ladder_accuracy ci95 low", "ladder_accuracy ci95 high", "flip_rate",
         "first_position_share", "tie_rate", "failure_rate", "longer_wins_share", "longer_weaker_wins_share",
         "latency_p50_s", "latency_p95_s",
         "tokens_per_judgment", "cached_share", "judge_tokens_per_step", "judge_usd_per_step", "judge_usd_per_run",
         "pairs", "judgments", "failed")


def register(judge_sub: argparse._SubParsersAction) -> None:
    p = judge_sub.add_parser(
        "audit", help="measure the judge on the training data's reference ladders before training",
        description="Judge pairs of each sampled row's references (adjacent levels and the extreme pair) in both "
                    "orders: ladder accuracy, position bias, ties, failures, latency, tokens and the judge cost "
                    "of a run, with a verdict. Exit code 1 when the verdict says the judge blocks training.")
    p.add_argument("--data", help="training folder (its train.parquet), a parquet file, or a JSONL file with "
                                  "'references' worst first")
    p.add_argument("--compare", nargs=2, metavar=("RUN1", "RUN2"), help="show two audit runs side by side")
    p.add_argument("--split", choices=("train", "test"), default="train", help="which parquet of a folder")
    p.add_argument("--samples", type=int, default=50, help="rows with two or more references to sample (default 50)")
    p.add_argument("--max-pairs", type=int, help="judge at most this many of their pairs (each in both orders)")
    p.add_argument("--seed", type=int, default=0, help="sampling and bootstrap seed (default 0)")
    p.add_argument("--strategy", choices=STRATEGIES,
                   help="the training run's REWARD_STRATEGY (default: $REWARD_STRATEGY or position-disadvantage), "
                        "for the cost estimate; the audit itself always judges both orders")
    p.add_argument("--no-criteria", action="store_true", help="ignore per-row criteria")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    run = p.add_argument_group("training run, for the cost estimate (defaults: the launcher's variables)")
    run.add_argument("--train-batch-size", type=int, help="default: $TRAIN_BATCH_SIZE or 16")
    run.add_argument("--rollout-n", type=int, help="default: $ROLLOUT_N, else 8 for ALGO=grpo and 1 for ppo")
    run.add_argument("--epochs", type=int, help="default: $TOTAL_EPOCHS or 2")
    run.add_argument("--total-steps", type=int, help="trainer.total_training_steps, if you set it")
    j = p.add_argument_group("judge (defaults from the JUDGE_* variables; prices from JUDGE_PRICE_*)")
    add_judge_options(j)
    j.add_argument("--concurrency", type=int, help="judge requests in flight (default: $API_PARALLEL or 64)")
    j.add_argument("--temperature", type=float, help="default: $JUDGE_TEMPERATURE or 0")
    j.add_argument("--max-tokens", type=int, help="default: $JUDGE_MAX_TOKENS or 2048")
    p.add_argument("--out", help="run folder (default eval_runs/judge-audit-<model>-<time>); reuse it to resume")
    p.add_argument("--cache", help="judgment log (default <out>/judgments.jsonl)")
    p.add_argument("--json", action="store_true", help="print the headline numbers as one JSON object")
    add_progress_option(p, shows_progress=True)
    p.set_defaults(func=run_audit_cmd)


@_guard
def run_audit_cmd(args: argparse.Namespace) -> int:
    if args.compare:
        if args.data:
            raise CliError("give either --data (run an audit) or --compare RUN1 RUN2, not both")
        return _compare(args)
    if not args.data:
        raise CliError("--data is required: a training folder, a parquet file or a JSONL file with references")
    if args.bootstrap < 100:
        raise CliError("--bootstrap must be at least 100 resamples")
    launch = LaunchSettings.from_env(train_batch_size=args.train_batch_size, rollout_n=args.rollout_n,
                                     epochs=args.epochs, total_steps=args.total_steps, strategy=args.strategy)
    prices = prices_from_env()
    data = load_pairs(args.data, split=args.split, samples=args.samples, max_pairs=args.max_pairs, seed=args.seed,
                      with_criteria=not args.no_criteria)
    judge = make_judge(args, any(p.criteria for p in data.pairs), concurrency=args.concurrency,
                       temperature=args.temperature, max_tokens=args.max_tokens)
    judge.settings.api_key()  # a missing key is one line now, not a failure per judgment
    out = _out_dir(args, "judge-audit", judge.settings.model)

    report = asyncio.run(audit_once(
        data, judge, log_path=args.cache or out / "judgments.jsonl", launch=launch, prices=prices,
        n_boot=args.bootstrap, seed=args.seed, show_progress=not args.no_progress,
        inputs={"split": args.split, "samples": args.samples, "max_pairs": args.max_pairs, "seed": args.seed,
                "criteria": not args.no_criteria}))
    paths = write(out, report)
    pos = report["position"]
    if args.json:
        print_json({"verdict": report["verdict"]["line"], "headline": report["headline"],
                    "reason": pos["reason"], **{k: str(v) for k, v in paths.items()}})
    else:
        print(report["verdict"]["line"])
        h = report["headline"]
        print(text_table(["metric", "value"], [[k, usd(h[k]) if "usd" in k else h[k]] for k in SHOWN]))
        print(f"\nrecommended REWARD_STRATEGY: {pos['recommended']} (configured: {launch.strategy}). {pos['reason']}.")
        print(f"\nreport: {paths['json']}  summary: {paths['markdown']}  charts: "
              f"{', '.join(str(v) for k, v in paths.items() if k not in ('json', 'markdown'))}")
        if report["failures"]:
            print(f"{len(report['failures'])} judgment(s) failed (counted in the failure rate, listed in report.md); "
                  f"rerun with --out {out} to retry them", file=sys.stderr)
    return 1 if report["verdict"]["level"] == "blocks" else 0


def _compare(args: argparse.Namespace) -> int:
    result = compare_audits(*args.compare)
    if args.json:
        print_json(result)
        return 0
    for side, path, model, line in zip(("run1", "run2"), (result["run1"], result["run2"]), result["judges"],
                                       result["verdicts"], strict=True):
        print(f"{side}: {path}  judge={model}\n  {line}")
    rows = [[r["metric"], r["run1"], r["run2"], "" if r["diff"] is None else f"{r['diff']:+.2f}"]
            for r in result["rows"] if not r["metric"].endswith(("ci95 low", "ci95 high"))]
    print(text_table(["metric", "run1", "run2", "run2 - run1"], [[m, fmt(a), fmt(b), d] for m, a, b, d in rows]))
    return 0
