"""`writing-rl eval`: generate answers, score LongBench-Write / criteria / pairwise, compare runs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from ..eval.criteria import criteria_template, evaluate_criteria
from ..eval.data import EvalInputError, Item, items_from_responses, load_benchmark, load_responses
from ..eval.generate import endpoint_settings, generate
from ..eval.longbench import QUALITY_KEYS, evaluate_longbench, quality_template
from ..eval.pairwise import Pair, evaluate_pairwise, make_pairs
from ..eval.report import compare_reports, comparison_text, load_report, open_run_dir, run_meta, text_table, write_run
from ..eval.scoring import Scorer, report_stats
from ..judge import JudgeError, JudgeSettings, PairwiseJudge
from ..judge.templates import load_template
from .common import CliError, add_progress_option, fail, print_json, read_user_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a writing model: LongBench-Write, criteria scores, pairwise win rate")
    ev = p.add_subparsers(dest="eval_command", required=True, metavar="EVAL_COMMAND")

    g = ev.add_parser("generate", help="answer a benchmark file from an OpenAI-compatible endpoint (resumable)")
    g.add_argument("--data", required=True, help="benchmark JSONL (prompt/query per row) or a training parquet")
    g.add_argument("--out", required=True, help="responses JSONL to write; rerunning resumes it")
    _endpoint_args(g, required=True)
    g.add_argument("--limit", type=int, help="only the first N rows")
    g.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_progress_option(g, shows_progress=True)
    g.set_defaults(func=run_generate)

    lb = ev.add_parser("longbench-write", help="length score S_l and judged quality S_q by length bucket")
    _scoring_args(lb)
    lb.add_argument("--no-quality", action="store_true", help="length score only (no judge calls)")
    lb.add_argument("--template", help=f"quality prompt file (default: the packaged eval_quality.txt); "
                                       f"the reply must end with a JSON line of {', '.join(QUALITY_KEYS)}")
    lb.set_defaults(func=run_longbench)

    cr = ev.add_parser("criteria", help="WritingBench-style 1-10 scores per checklist criterion")
    _scoring_args(cr)
    cr.add_argument("--template", help="criterion prompt file (default: the packaged eval_criteria.txt)")
    cr.set_defaults(func=run_criteria)

    pw = ev.add_parser("pairwise", help="win rate of A over B (or over references), both orders, bootstrap CI")
    pw.add_argument("--a", required=True, help="responses JSONL of model A")
    grp = pw.add_mutually_exclusive_group(required=True)
    grp.add_argument("--b", help="responses JSONL of model B")
    grp.add_argument("--references", help="training parquet (or JSONL with references/target): compare with a "
                                          "reference of each row")
    pw.add_argument("--reference-level", type=int, default=-1,
                    help="which reference of each row (0 = weakest, -1 = strongest, the default)")
    pw.add_argument("--data", help="benchmark file with the questions (and criteria); default: the 'prompt' "
                                   "fields of --a")
    pw.add_argument("--a-name", help="label for A (default: the file name)")
    pw.add_argument("--b-name", help="label for B (default: the file name, or 'reference')")
    pw.add_argument("--no-criteria", action="store_true", help="ignore per-row criteria/checklists")
    pw.add_argument("--template", help="pairwise judge template (default: $JUDGE_TEMPLATE or the packaged one)")
    pw.add_argument("--criteria-template", help="pairwise template used for rows with criteria")
    pw.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    pw.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    _judge_args(pw)
    pw.set_defaults(func=run_pairwise)

    cp = ev.add_parser("compare", help="side-by-side table of two runs' headline numbers with differences")
    cp.add_argument("run1", help="a run folder (or its report.json)")
    cp.add_argument("run2")
    cp.add_argument("--json", action="store_true")
    add_progress_option(cp, shows_progress=False)
    cp.set_defaults(func=run_compare)


def _endpoint_args(p: argparse.ArgumentParser, required: bool) -> None:
    e = p.add_argument_group("model under evaluation (OpenAI-compatible endpoint, e.g. a vLLM server)")
    e.add_argument("--model", required=required, help="model name at the endpoint")
    e.add_argument("--base-url", help="endpoint base URL, e.g. http://localhost:8000/v1")
    e.add_argument("--backend", choices=["openai", "dashscope"], default="openai")
    e.add_argument("--max-tokens", type=int, default=16384, help="generation limit (default 16384)")
    e.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (default 0.7)")
    e.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    e.add_argument("--timeout", type=float, default=1800.0, help="seconds per request (default 1800)")
    e.add_argument("--retries", type=int, default=4, help="retries of a failed request (default 4)")
    e.add_argument("--system-prompt", help="system prompt file to put before each instruction")
    e.add_argument("--api-key-env", help="variable holding the endpoint's key (default: OPENAI_API_KEY, "
                                         "none needed on localhost); keeps the judge's key away from it")


def _judge_args(p: argparse.ArgumentParser) -> None:
    j = p.add_argument_group("judge (defaults from JUDGE_* variables)")
    j.add_argument("--judge-model", help="judge model (default: $JUDGE_MODEL)")
    j.add_argument("--judge-base-url", help="judge base URL (default: $JUDGE_BASE_URL)")
    j.add_argument("--judge-backend", choices=["openai", "dashscope"])
    j.add_argument("--judge-temperature", type=float, help="default: $JUDGE_TEMPERATURE or 0")
    j.add_argument("--judge-max-tokens", type=int, help="default: $JUDGE_MAX_TOKENS or 2048")
    j.add_argument("--judge-concurrency", type=int, help="judge requests in flight (default: $API_PARALLEL or 64)")
    p.add_argument("--out", help="run folder (default eval_runs/<command>-<name>-<time>); reuse it to resume")
    p.add_argument("--cache", help="judge result log (default <out>/scores.jsonl); share one between runs")
    p.add_argument("--limit", type=int, help="only the first N benchmark rows")
    p.add_argument("--json", action="store_true", help="print the headline numbers as one JSON object")
    add_progress_option(p, shows_progress=True)


def _scoring_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="benchmark file (JSONL or training parquet)")
    p.add_argument("--responses", help="responses JSONL ({id, response} per line); or generate with --model")
    _endpoint_args(p, required=False)
    _judge_args(p)


# ---------------------------------------------------------------------------------------- helpers
def _judge_settings(args: argparse.Namespace, **extra: Any) -> JudgeSettings:
    return JudgeSettings.from_env(
        model=args.judge_model, base_url=args.judge_base_url, backend=args.judge_backend,
        temperature=args.judge_temperature, max_tokens=args.judge_max_tokens, concurrency=args.judge_concurrency,
        **extra,
    )


def _endpoint(args: argparse.Namespace) -> JudgeSettings:
    return endpoint_settings(args.model, args.base_url, backend=args.backend, temperature=args.temperature,
                             max_tokens=args.max_tokens, concurrency=args.concurrency, timeout_s=args.timeout,
                             max_retries=args.retries, api_key_env=args.api_key_env)


def _limit(items: list[Item], limit: int | None) -> list[Item]:
    if limit is not None and limit < 1:
        raise CliError("--limit must be at least 1")
    return items[:limit] if limit else items


def _out_dir(args: argparse.Namespace, kind: str, label: str) -> Path:  # audit_cmd uses it too
    return open_run_dir(args.out, kind, label)


def _responses(args: argparse.Namespace, items_all: list[Item], items: list[Item], out: Path) -> tuple[dict, str]:
    """The responses to score: from --responses, or generated now from --model into <out>/responses.jsonl."""
    if args.responses and args.model:
        raise CliError("give either --responses FILE or --model (to generate), not both")
    if args.responses:
        return load_responses(args.responses, items_all), args.responses
    if not args.model:
        raise CliError("give --responses FILE (existing answers) or --model/--base-url (to generate them)")
    path = out / "responses.jsonl"
    system = read_user_text(args.system_prompt, "system prompt file")
    done = asyncio.run(generate(items, _endpoint(args), path, system_prompt=system,
                                show_progress=not args.no_progress)).stats
    print(f"generated {done.done}, failed {done.failed}, cached {done.cached}", file=sys.stderr)
    return load_responses(path, items_all), str(path)


def _finish(args: argparse.Namespace, report: dict[str, Any], out: Path) -> int:
    paths = write_run(out, report)
    n_fail = len(report.get("failures") or [])
    if args.json:
        print_json({"headline": report["headline"], "failures": n_fail,
                    **{k: str(v) for k, v in paths.items()}})
    else:
        print(text_table(["metric", "value"], [[k, v] for k, v in report["headline"].items()]))
        print(f"\nreport: {paths['json']}  summary: {paths['markdown']}  "
              f"charts: {', '.join(str(p) for k, p in paths.items() if k not in ('json', 'markdown'))}")
        if n_fail:
            print(f"{n_fail} item(s) failed and are excluded (listed in report.md); rerun with --out {out} "
                  "to retry them", file=sys.stderr)
    return 1 if n_fail else 0


def _guard(fn: Any) -> Any:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (CliError, EvalInputError, JudgeError, FileNotFoundError) as e:
            return fail(str(e))
    return wrapped


# ---------------------------------------------------------------------------------------- commands
@_guard
def run_generate(args: argparse.Namespace) -> int:
    items = _limit(load_benchmark(args.data), args.limit)
    system = read_user_text(args.system_prompt, "system prompt file")
    result = asyncio.run(generate(items, _endpoint(args), args.out, system_prompt=system,
                                  show_progress=not args.no_progress))
    s = result.stats
    if args.json:
        print_json({**result.to_dict(), "out": args.out})
    else:
        print(text_table(["rows", "already done", "generated", "failed", "tokens in", "tokens out", "wall s"],
                         [[s.items, s.cached, s.done, s.failed, s.prompt_tokens, s.completion_tokens,
                           round(s.wall_s, 1)]]))
        for f in result.failures[:20]:
            print(f"failed {f['id']}: {f['error']}", file=sys.stderr)
        if s.failed:
            print(f"rerun the same command to retry the {s.failed} failed row(s)", file=sys.stderr)
    return 1 if s.failed else 0


def _scored_run(args: argparse.Namespace, kind: str, scoring: tuple[Any, tuple[str, ...], int, int] | None,
                evaluate: Any) -> int:
    """Score a benchmark's responses (given, or generated now) with ``scoring`` = (template, keys, lo, hi)."""
    items_all = load_benchmark(args.data)
    items = _limit(items_all, args.limit)
    settings = None if scoring is None else _judge_settings(args)
    label = Path(args.responses).stem if args.responses else (args.model or "run")
    out = _out_dir(args, kind, label)
    responses, resp_path = _responses(args, items_all, items, out)
    scorer = None if scoring is None or settings is None else Scorer(
        settings, *scoring, args.cache or out / "scores.jsonl", show_progress=not args.no_progress)
    result = asyncio.run(evaluate(items, responses, scorer))
    report = run_meta(kind, label, {"data": args.data, "responses": resp_path, "rows": len(items)})
    report["judge"] = scorer.settings_record() if scorer else None
    report["stats"] = report_stats(scorer.stats) if scorer else None
    report.update(result)
    return _finish(args, report, out)


@_guard
def run_longbench(args: argparse.Namespace) -> int:
    scoring = None if args.no_quality else (quality_template(args.template), QUALITY_KEYS, 1, 5)
    return _scored_run(args, "longbench-write", scoring, evaluate_longbench)


@_guard
def run_criteria(args: argparse.Namespace) -> int:
    return _scored_run(args, "criteria", (criteria_template(args.template), ("score",), 1, 10), evaluate_criteria)


def _pairs(args: argparse.Namespace) -> tuple[list[Pair], dict[str, Any]]:
    data_path = args.references or args.data
    items_all = load_benchmark(data_path) if data_path else None
    a = load_responses(args.a, items_all)
    if items_all is None:  # questions from A's own rows
        items_all = items_from_responses(a)
    items = _limit(items_all, args.limit)
    b = load_responses(args.b, items_all) if args.b else None
    pairs, missing = make_pairs(items, a, b, reference_level=args.reference_level, with_criteria=not args.no_criteria)
    inputs = {"a": args.a, "b": args.b or f"{args.references} (reference level {args.reference_level})",
              "data": data_path, "a_name": args.a_name or Path(args.a).stem,
              "b_name": args.b_name or (Path(args.b).stem if args.b else "reference"), "rows": len(items),
              "criteria": not args.no_criteria}
    return pairs, {"inputs": inputs, "missing": missing}


@_guard
def run_pairwise(args: argparse.Namespace) -> int:
    if args.bootstrap < 100:
        raise CliError("--bootstrap must be at least 100 resamples")
    settings = _judge_settings(args, template=args.template, criteria_template=args.criteria_template)
    template = load_template(settings.template)
    # a single --template serves rows with criteria too, unless --criteria-template is given
    criteria_template = load_template(args.criteria_template or args.template or settings.criteria_template,
                                      criteria=True)
    pairs, extra = _pairs(args)
    label = f"{extra['inputs']['a_name']}-vs-{extra['inputs']['b_name']}"
    out = _out_dir(args, "pairwise", label)

    async def go() -> dict[str, Any]:
        async with PairwiseJudge(settings, template=template, criteria_template=criteria_template).session() as judge:
            return await evaluate_pairwise(pairs, judge, args.cache or out / "judgments.jsonl",
                                           n_boot=args.bootstrap, seed=args.seed,
                                           show_progress=not args.no_progress)

    result = asyncio.run(go())
    result["failures"] = extra["missing"] + result["failures"]
    result["headline"]["failed"] = len(result["failures"])
    report = run_meta("pairwise", label, extra["inputs"])
    report.update(result)
    return _finish(args, report, out)


@_guard
def run_compare(args: argparse.Namespace) -> int:
    a, b = load_report(args.run1), load_report(args.run2)
    rows = compare_reports(a, b)
    if not rows:
        raise CliError(f"the two reports share no headline numbers ({a.get('benchmark')} vs {b.get('benchmark')})")
    if args.json:
        print_json({"run1": a["_path"], "run2": b["_path"], "rows": rows})
        return 0
    text, notes = comparison_text(a, b, rows)
    for note in notes:
        print(note, file=sys.stderr)
    print(text)
    return 0
