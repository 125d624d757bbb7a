"""The selection run: loads inputs once and runs the stages (generate, score, select, emit) on a work dir.

Work dir layout::

    run.json           the input and models files used (later stages default to them)
    responses.jsonl    generation cache, append-only, keyed by (instruction id, model name)
    scores.jsonl       scoring cache, append-only, same keys
    stages.json        per-stage counters; generate/score summed over all runs (items/cached/pending
                       and select/emit: the last run)
    report.json/.md    the selection report; p_histogram.png its chart
    selected.jsonl     rows for ``writing-rl data build``
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..calls.log import ResultLog, by_id_and_model, read_json
from ..calls.runner import Budget, RunStats
from ..data.build import build_dataset
from ..data.schema import DataError
from ..judge.settings import JudgeSettings
from ..redact import scrub
from .emit import emit_rows, write_rows
from .generate import generate_stage
from .inputs import load_instructions
from .models import SelectionError, judge_spec, load_models
from .report import build_report, write_report
from .score import PointwiseScorer, load_score_templates, score_stage
from .select import Candidate, collect, rank

SUMMED = ("done", "failed", "calls", "attempts", "prompt_tokens", "completion_tokens", "cost", "wall_s")

# Settings that decide what the caches mean; a stage run without them reuses the last run's values.
REMEMBERED = ("input", "models", "judge_model", "judge_base_url", "judge_backend", "score_template",
              "score_criteria_template")


def cache_at(path: Path) -> ResultLog:
    """A work dir's cache (responses or scores): a result log keyed by (instruction id, model name)."""
    return ResultLog(path, f"{path.stem} cache", key=by_id_and_model)


def remembered(work_dir: Path) -> dict[str, Any]:
    """The settings saved in ``run.json`` by the last stage run in this work dir ({} if none)."""
    path = Path(work_dir) / "run.json"
    return read_json(path) if path.is_file() else {}


@dataclass
class Options:
    input: Path
    models: Path
    work_dir: Path
    k: int | None = None
    min_best_score: float = 5.0
    concurrency: int | None = None
    max_calls: int | None = None
    max_cost: float | None = None
    judge_model: str | None = None
    judge_base_url: str | None = None
    judge_backend: str | None = None
    score_template: Path | None = None
    score_criteria_template: Path | None = None
    parse_retries: int = 2
    keep_policy_reference: bool = True
    build: Path | None = None
    test_size: int = 0
    system_prompt: str = "default"
    data_source: str = "writing_rl"
    progress: bool = True


class SelectionRun:
    """Everything the stages share: inputs, models, judge, scorer, budget and the work dir."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        if opts.concurrency is not None and opts.concurrency < 1:
            raise SelectionError(f"--concurrency must be at least 1, got {opts.concurrency}")
        if opts.parse_retries < 0:
            raise SelectionError(f"--parse-retries must be >= 0, got {opts.parse_retries}")
        base = JudgeSettings.from_env()
        self.concurrency = opts.concurrency or base.concurrency
        self.instructions = load_instructions(opts.input)
        self.by_id = {i.id: i for i in self.instructions}
        self.models = load_models(opts.models, base, opts.concurrency)
        self.judge = judge_spec(self.models, base, model=opts.judge_model, base_url=opts.judge_base_url,
                                backend=opts.judge_backend,
                                concurrency=opts.concurrency if self.models.judge is None else None)
        self.templates = load_score_templates(opts.score_template, opts.score_criteria_template)
        js = self.judge.settings
        self.scorer = PointwiseScorer(self.templates, js.model, js.max_candidate_chars)
        self.budget = Budget(opts.max_calls, opts.max_cost)
        self.work = Path(opts.work_dir)
        if self.work.exists() and not self.work.is_dir():
            raise SelectionError(f"--work-dir {self.work} exists and is not a directory")
        self.work.mkdir(parents=True, exist_ok=True)
        self.stages: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []
        if opts.max_cost is not None:
            unpriced = [s.name for s in (*self.models.generators, self.judge) if not s.priced]
            if unpriced:
                self.warnings.append(f"no price set for {', '.join(unpriced)}: their calls count as 0 "
                                     "toward --max-cost (set price_per_1k_prompt / price_per_1k_completion)")
        remembered = {k: getattr(opts, k) for k in REMEMBERED}
        remembered = {k: str(Path(v).resolve()) if isinstance(v, Path) else v for k, v in remembered.items()}
        atomic_write_text(self.work / "run.json", scrub(json.dumps(remembered, indent=1)) + "\n")  # no URL password

    # ------------------------------------------------------------------ bookkeeping
    def _record(self, stats: RunStats) -> None:
        """Keep this run's counters, and add them to the work dir's totals over all runs."""
        self.stages[stats.stage] = stats.to_dict()
        path = self.work / "stages.json"
        saved = read_json(path) if path.exists() else {}
        prev = saved.get(stats.stage, {})
        total = stats.to_dict()
        for key in SUMMED if stats.stage in ("generate", "score") else ():  # select/emit: the last run
            total[key] = round(total[key] + prev.get(key, 0), 6)
        total["runs"] = prev.get("runs", 0) + 1
        saved[stats.stage] = total
        atomic_write_text(path, json.dumps(saved, indent=1) + "\n")

    def _cache(self, name: str) -> ResultLog:
        return cache_at(self.work / name)

    # ------------------------------------------------------------------ stages
    def generate(self) -> RunStats:
        stats = RunStats("generate")
        with self._cache("responses.jsonl") as cache:
            try:
                asyncio.run(generate_stage(self.instructions, self.models, cache, stats, self.budget,
                                           concurrency=self.concurrency, progress=self.opts.progress))
            finally:
                self._record(stats)
        return stats

    def score(self) -> RunStats:
        stats = RunStats("score")
        responses = self._cache("responses.jsonl")
        with self._cache("scores.jsonl") as cache:
            try:
                asyncio.run(score_stage(self.instructions, self.models, self.judge, self.scorer, responses, cache,
                                        stats, self.budget, concurrency=self.concurrency,
                                        parse_retries=self.opts.parse_retries, progress=self.opts.progress))
            finally:
                self._record(stats)
        return stats

    def select(self) -> dict[str, Any]:
        k = self.opts.k
        if k is None or k < 1:
            raise SelectionError("--k must be given as a whole number >= 1 (how many instructions to keep)")
        start = time.monotonic()
        responses, scores = self._cache("responses.jsonl"), self._cache("scores.jsonl")
        if not responses.entries:
            raise SelectionError(f"{self.work / 'responses.jsonl'} is empty or missing: run the generate stage first")
        candidates, dropped = collect(self.instructions, self.models, responses, scores, self.scorer)
        selection = rank(candidates, k, self.opts.min_best_score)
        selection.dropped = dropped + selection.dropped
        self._record(RunStats("select", items=len(self.instructions), done=len(selection.selected),
                                failed=sum(d.reason == "failed" for d in dropped),
                                pending=sum(d.reason == "incomplete" for d in dropped),
                                wall_s=time.monotonic() - start))
        stats_path = self.work / "stages.json"
        stages = read_json(stats_path) if stats_path.exists() else {}
        report = build_report(
            selection=selection, candidates=candidates, n_instructions=len(self.instructions), models=self.models,
            judge=self.judge, k=k, min_best_score=self.opts.min_best_score, responses=responses, scores=scores,
            stages=stages, sources={"input": str(self.opts.input), "models": str(self.opts.models)},
        )
        write_report(self.work, report, candidates, selection.selected)
        return report

    def emit(self) -> dict[str, Any]:
        report_path = self.work / "report.json"
        if not report_path.exists():
            raise SelectionError(f"{report_path} is missing: run the select stage first")
        start = time.monotonic()
        report = read_json(report_path)
        responses, scores = self._cache("responses.jsonl"), self._cache("scores.jsonl")
        candidates, _ = collect(self.instructions, self.models, responses, scores, self.scorer)
        current = {c.id: c for c in candidates}
        selected: list[Candidate] = []
        for s in report.get("selected", []):
            c = current.get(str(s["id"]))
            if c is None or c.p != s["p"] or c.competitor_scores != s["competitor_scores"]:
                raise SelectionError(
                    f"instruction {s['id']} no longer has the responses and scores it was selected with "
                    "(the input, models, judge or caches changed since select); rerun the select stage"
                )
            selected.append(c)
        rows, left_out = emit_rows(selected, self.by_id, self.models, responses, self.opts.keep_policy_reference)
        out = self.work / "selected.jsonl"
        write_rows(rows, out)
        result: dict[str, Any] = {"selected_jsonl": str(out), "rows": len(rows),
                                  "competitor_references_below_policy_left_out": left_out}
        if self.opts.build is not None:
            if not rows:
                raise SelectionError("no instruction was selected, so there is nothing to build; see report.md")
            try:
                result["build"] = build_dataset(
                    rows, self.opts.build, test_size=self.opts.test_size, system_prompt=self.opts.system_prompt,
                    data_source=self.opts.data_source, labels=[f"{out}: line {i + 1}" for i in range(len(rows))],
                )
            except DataError as e:
                raise SelectionError(f"building {self.opts.build} failed: {e}") from None
        self._record(RunStats("emit", items=len(selected), done=len(rows), wall_s=time.monotonic() - start))
        return result


def print_warnings(run: SelectionRun) -> None:
    for w in run.warnings:
        print(f"warning: {w}", file=sys.stderr)
