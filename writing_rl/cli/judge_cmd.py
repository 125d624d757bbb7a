"""`writing-rl judge`: run one pairwise comparison, to try a judge prompt before a training run."""

from __future__ import annotations

import argparse
import asyncio

from ..judge import STRATEGIES, Judgment
from ..judge.compare import HIDDEN_CODE
from ..judge.criteria import decode_criteria
from . import audit_cmd
from .common import add_judge_options, add_progress_option, fail, make_judge, print_json, read_user_text

FILES = ("question_file", "reference_file", "response_file")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("judge", help="compare one response with one reference using the LLM judge; "
                                     "`judge audit` measures a judge on the training data")
    p.add_argument("--question-file", help="the writing instruction (UTF-8 text; required)")
    p.add_argument("--reference-file", help="the reference answer (required)")
    p.add_argument("--response-file", help="the response to judge, reasoning blocks stripped (required)")
    p.add_argument("--criteria-file", help="per-sample criteria (text, or a JSON list as in WritingBench)")
    p.add_argument("--strategy", choices=STRATEGIES, default="position-disadvantage")
    add_judge_options(p)
    p.add_argument("--show-prompt", action="store_true", help="print the rendered prompt first")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_progress_option(p, shows_progress=False)
    p.set_defaults(func=run)
    audit_cmd.register(p.add_subparsers(dest="judge_command", metavar="{audit}"))


def run(args: argparse.Namespace) -> int:
    missing = [f"--{name.replace('_', '-')}" for name in FILES if getattr(args, name) is None]
    if missing:
        return fail(f"the following arguments are required: {', '.join(missing)} "
                    "(or run `writing-rl judge audit` to audit a judge on training data)")
    question = read_user_text(args.question_file, "question file")
    reference = read_user_text(args.reference_file, "reference file")
    response = read_user_text(args.response_file, "response file")
    criteria = decode_criteria(read_user_text(args.criteria_file, "criteria file"))
    judge = make_judge(args, criteria is not None)
    if args.show_prompt and not args.json:
        q, ref, ans, _ = judge.prepare(question or "", reference or "", response or "")
        print(judge.render(q, ref, ans, criteria, code=HIDDEN_CODE))  # the real tag code stays secret
        print("=" * 72)

    async def go() -> Judgment:
        async with judge.session() as j:
            return await j.compare(question or "", reference or "", response or "", criteria, args.strategy)

    result = asyncio.run(go())
    out = result.to_dict()
    if args.json:
        print_json(out)
    else:
        if result.raw:
            print(result.raw.strip())
            print("-" * 72)
        line = f"outcome: {result.outcome} (for the response; strategy {result.strategy})"
        if result.reason:
            line += f"\nreason: {result.reason}"
        if result.disagreement is not None:
            line += f"\norders disagree: {result.disagreement}"
        if any(result.truncated.values()):
            line += f"\ntruncated to the judge budget: {result.truncated}"
        print(line)
        print(f"attempts: {result.attempts}  latency: {result.latency_s:.2f}s  "
              f"tokens: {result.prompt_tokens}+{result.completion_tokens} ({result.cached_prompt_tokens} cached)")
    return 0 if result.outcome != "failed" else 1
