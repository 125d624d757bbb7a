"""WritingBench-style criteria scoring: each response graded 1–10 per checklist criterion.

One judge call per (row, criterion), with the criterion's description and rubric bands, as
WritingBench grades. A row's score is the mean of its criteria; it is scored only if every one of
its criteria was; otherwise it is listed as failed with the criteria that failed. Reported means
(per row, per domain, overall) are multiplied by 10, the scale WritingBench reports.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..judge.templates import Template, load_named
from .data import EvalInputError, Item, ResponseRecord, answered
from .report import mean
from .scoring import ScoreJob, Scorer

_BAND = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
SLOTS = {"question", "response", "criterion", "rubric", "format"}


@dataclass(frozen=True)
class Criterion:
    name: str
    description: str
    rubric: str

    def text(self) -> str:
        return f"{self.name}: {self.description}" if self.description else self.name


def criteria_template(path: str | Path | None = None) -> Template:
    return load_named("eval_criteria.txt", {"question", "response", "criterion"}, SLOTS, path)


def parse_criteria(value: Any, where: str) -> list[Criterion]:
    """Criteria from a WritingBench checklist (dicts with name, description, bands), strings or text."""
    if isinstance(value, str) and value.strip()[:1] in "[{":
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    if value is None or (isinstance(value, (str, list)) and not value):
        raise EvalInputError(f"{where}: no 'checklist' or 'criteria' to score against")
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        raise EvalInputError(f"{where}: criteria must be text, a list, or checklist objects")
    out: list[Criterion] = []
    for i, c in enumerate(value, start=1):
        if isinstance(c, str) and c.strip():
            out.append(Criterion(c.strip(), "", ""))
        elif isinstance(c, dict):
            name = str(c.get("name") or c.get("title") or "").strip()
            desc = str(c.get("criteria_description") or c.get("description") or "").strip()
            if not name and not desc:
                raise EvalInputError(f"{where}: criterion {i} has neither 'name' nor 'criteria_description'")
            bands = sorted(((int(m.group(1)), k) for k in c if (m := _BAND.match(str(k)))), key=lambda b: b[0])
            rubric = "\n".join(f"- {k.strip()}: {str(c[k]).strip()}" for _, k in bands)
            out.append(Criterion(name or f"criterion {i}", desc if name else "", rubric))
        else:
            raise EvalInputError(f"{where}: criterion {i} is empty or not text/an object")
    names = [c.name for c in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise EvalInputError(f"{where}: criterion name(s) {sorted(dup)} appear twice; names must be unique per row")
    return out


async def evaluate_criteria(
    items: list[Item], responses: dict[str, ResponseRecord], scorer: Scorer
) -> dict[str, Any]:
    crits = {it.id: parse_criteria(it.criteria, it.source) for it in items}  # all rows checked first
    rows: list[dict[str, Any]] = []
    jobs: dict[str, list[tuple[Criterion, ScoreJob]]] = {}
    found, failures = answered(items, responses)
    for it, text in found:
        rows.append({"id": it.id, "domain1": it.fields.get("domain1"), "domain2": it.fields.get("domain2"),
                     "scores": None, "mean": None, "score": None, "truncated": scorer.truncated(text)})
        jobs[it.id] = [
            (c, ScoreJob(scorer.key("criteria", it.question, text, c.name, c.description, c.rubric), it.id,
                         partial(scorer.render, it.question, text, criterion=c.text(),
                                 rubric=c.rubric or "(none listed)"),
                         {"criterion": c.name}))
            for c in crits[it.id]
        ]
    results = await scorer.run([j for pairs in jobs.values() for _, j in pairs], "criteria")
    for row in rows:
        scores: dict[str, int] = {}
        errors: dict[str, str] = {}
        for c, job in jobs[row["id"]]:
            res = results[job.key]
            if res.get("ok"):
                scores[c.name] = int(res["scores"]["score"])
            else:
                errors[c.name] = str(res.get("error"))
        row["scores"] = scores
        if errors:
            failures.append({"id": row["id"], "stage": "criteria", "error": "; ".join(
                f"{name}: {err}" for name, err in errors.items())})
            continue
        row["mean"] = mean(scores.values())
        row["score"] = row["mean"] * 10
    scored = [r for r in rows if r["score"] is not None]
    by_domain: dict[str, dict[str, Any]] = {}
    for level in ("domain1", "domain2"):
        groups: dict[str, list[float]] = defaultdict(list)
        for r in scored:
            groups[str(r[level] or "(none)")].append(r["score"])
        by_domain[level] = {k: {"n": len(v), "score": mean(v)} for k, v in sorted(groups.items())}
    overall = mean(r["score"] for r in scored)
    headline: dict[str, Any] = {"score": overall}
    headline.update({f"score | {k}": v["score"] for k, v in by_domain["domain1"].items()})
    headline.update({"items": len(items), "scored": len(scored), "failed": len(failures),
                     "judge_truncated": sum(r["truncated"] for r in rows)})
    return {"benchmark": "criteria", "headline": headline, "overall": {"n": len(scored), "score": overall},
            "by_domain": by_domain, "items": rows, "failures": failures}
