"""`writing-rl judge`: run one pairwise comparison, to try a judge prompt before a training run."""

from __future__ import annotations

import argparse
import asyncio
import json

from ..judge import STRATEGIES, JudgeConfigError, JudgeError, JudgeSettings, PairwiseJudge
from ..judge.compare import HIDDEN_CODE
from ..judge.templates import load_template
from .common import CliError, fail, print_json, read_user_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("judge", help="compare one response with one reference using the LLM judge")
    p.add_argument("--question-file", required=True, help="the writing instruction (UTF-8 text)")
    p.add_argument("--reference-file", required=True, help="the reference answer")
    p.add_argument("--response-file", required=True, help="the response to judge (reasoning blocks are stripped)")
    p.add_argument("--criteria-file", help="per-sample criteria (text, or a JSON list as in WritingBench)")
    p.add_argument("--strategy", choices=STRATEGIES, default="position-disadvantage")
    p.add_argument("--template", help="judge template file (default: $JUDGE_TEMPLATE or the packaged one)")
    p.add_argument("--criteria-template", help="template used when criteria are given")
    p.add_argument("--model", help="judge model (default: $JUDGE_MODEL)")
    p.add_argument("--base-url", help="OpenAI-compatible base URL (default: $JUDGE_BASE_URL)")
    p.add_argument("--backend", choices=["openai", "dashscope"], help="default: $JUDGE_BACKEND or from the model")
    p.add_argument("--show-prompt", action="store_true", help="print the rendered prompt first")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _criteria(text: str | None) -> object:
    if text is None:
        return None
    stripped = text.strip()
    if stripped.startswith("[") or stripped.startswith("{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return text
    return text


def run(args: argparse.Namespace) -> int:
    try:
        question = read_user_text(args.question_file, "question file")
        reference = read_user_text(args.reference_file, "reference file")
        response = read_user_text(args.response_file, "response file")
        criteria = _criteria(read_user_text(args.criteria_file, "criteria file"))
        settings = JudgeSettings.from_env(
            model=args.model, base_url=args.base_url, backend=args.backend,
            template=args.template, criteria_template=args.criteria_template,
        )
        judge = PairwiseJudge(settings)
        if criteria is not None and args.template and not args.criteria_template:
            judge.criteria_template = load_template(args.template, criteria=True)
        if args.show_prompt and not args.json:
            q, ref, ans, _ = judge.prepare(question or "", reference or "", response or "")
            print(judge.render(q, ref, ans, criteria, code=HIDDEN_CODE))  # the real tag code stays secret
            print("=" * 72)
        result = asyncio.run(judge.compare(question or "", reference or "", response or "", criteria, args.strategy))
    except CliError as e:
        return fail(str(e))
    except JudgeConfigError as e:
        return fail(str(e))
    except JudgeError as e:
        return fail(str(e))
    except FileNotFoundError as e:
        return fail(str(e))
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
