"""The selection report: ``report.json`` for tools, ``report.md`` and ``p_histogram.png`` for people.

It gives the distribution of p and of each model's scores, how many instructions were dropped and
why, the selected ids, per-model usage (calls, tokens, cost, failures) and the per-stage summary.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes, atomic_write_text
from ..calls.log import ResultLog
from ..redact import scrub
from .models import ModelsConfig, ModelSpec
from .select import Candidate, Selection

STAGE_COLUMNS = ("stage", "runs", "items", "cached", "done", "failed", "pending", "calls", "attempts",
                 "prompt_tokens", "completion_tokens", "cost", "wall_s")


def describe(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    v = sorted(values)

    def q(f: float) -> float:
        return round(v[min(len(v) - 1, int(f * (len(v) - 1) + 0.5))], 4)

    return {"n": len(v), "mean": round(statistics.fmean(v), 4), "median": round(statistics.median(v), 4),
            "min": round(v[0], 4), "p10": q(0.1), "p90": q(0.9), "max": round(v[-1], 4)}


def usage(cache: ResultLog, spec_names: list[str]) -> dict[str, dict[str, Any]]:
    """Totals per model over everything the cache holds (all runs)."""
    out = {n: {"records": 0, "ok": 0, "failed": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
           for n in spec_names}
    for (_, model), rec in cache.entries.items():
        u = out.get(model)
        if u is None:
            continue
        u["records"] += 1
        u["ok" if rec.get("ok") else "failed"] += 1
        u["prompt_tokens"] += int(rec.get("prompt_tokens") or 0)
        u["completion_tokens"] += int(rec.get("completion_tokens") or 0)
        u["cost"] = round(u["cost"] + float(rec.get("cost") or 0.0), 6)
    return out


def build_report(
    *,
    selection: Selection,
    candidates: list[Candidate],
    n_instructions: int,
    models: ModelsConfig,
    judge: ModelSpec,
    k: int,
    min_best_score: float,
    responses: ResultLog,
    scores: ResultLog,
    stages: dict[str, Any],
    sources: dict[str, str],
) -> dict[str, Any]:
    dropped: dict[str, list[dict[str, Any]]] = {"failed": [], "incomplete": [], "too_hard": []}
    for d in sorted(selection.dropped, key=lambda d: d.position):
        dropped[d.reason].append({"id": d.id, "details": d.details})
    names = [s.name for s in models.generators]
    by_model = {
        s.name: {"role": s.role, "endpoint_model": s.settings.model,
                 **describe([c.policy_score if s is models.policy else c.competitor_scores[s.name]
                             for c in candidates])}
        for s in models.generators
    }
    best_count = Counter(c.best_model for c in selection.selected)
    warnings = []
    if len(selection.selected) < k:
        warnings.append(f"only {len(selection.selected)} instructions are eligible, fewer than --k {k}")
    non_positive = sum(c.p <= 0 for c in selection.selected)
    if non_positive:
        warnings.append(f"{non_positive} selected instructions have p <= 0 (no competitor beats the policy)")
    if dropped["incomplete"]:
        warnings.append(f"{len(dropped['incomplete'])} instructions are incomplete: rerun generate and score")
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **sources,
        "policy": models.policy.name,
        "competitors": [c.name for c in models.competitors],
        "judge": judge.settings.model,
        "k": k,
        "min_best_score": min_best_score,
        "counts": {
            "instructions": n_instructions,
            "scored": len(candidates),
            "eligible": len(selection.ranked),
            "selected": len(selection.selected),
            "dropped": {r: len(v) for r, v in dropped.items()},
        },
        "selected": [{"rank": i + 1, **c.to_dict()} for i, c in enumerate(selection.selected)],
        "not_selected": [{"id": c.id, "p": c.p} for c in selection.ranked[k:]],
        "dropped": dropped,
        "p": {"selected": describe([c.p for c in selection.selected]),
              "eligible": describe([c.p for c in selection.ranked]),
              "all_scored": describe([c.p for c in candidates])},
        "best_competitor_of_selected": dict(best_count.most_common()),
        "scores_by_model": by_model,
        "usage": {"generation": usage(responses, names), "scoring": usage(scores, names)},
        "stages": stages,
        "warnings": warnings,
    }


def stage_table(stages: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of the per-stage counters (also printed at the end of a command)."""
    head = "| " + " | ".join(STAGE_COLUMNS) + " |"
    rows = [head, "|" + "---|" * len(STAGE_COLUMNS)]
    for name, s in stages.items():
        cells = [name] + [f"{s.get(c, 0):.4f}" if c == "cost" else f"{s.get(c, 0):.1f}" if c == "wall_s"
                          else str(s.get(c, 1 if c == "runs" else 0)) for c in STAGE_COLUMNS[1:]]
        rows.append("| " + " | ".join(cells) + " |")
        if s.get("stopped"):
            rows.append(f"| ↳ {name} stopped: {s['stopped']} |" + " |" * (len(STAGE_COLUMNS) - 1))
    return "\n".join(rows)


def render_markdown(r: dict[str, Any], chart: str | None, max_rows: int = 50) -> str:
    c = r["counts"]
    out = [
        "# Data selection report", "",
        f"Policy **{r['policy']}**; competitors {', '.join(r['competitors'])}; judge `{r['judge']}`.  ",
        f"k = {r['k']}, min best competitor score = {r['min_best_score']:g}. Created {r['created']}.", "",
        "| instructions | fully scored | eligible | selected | failed | incomplete | too hard |",
        "|---|---|---|---|---|---|---|",
        f"| {c['instructions']} | {c['scored']} | {c['eligible']} | {c['selected']} | {c['dropped']['failed']} "
        f"| {c['dropped']['incomplete']} | {c['dropped']['too_hard']} |", "",
    ]
    out += [f"> **Warning:** {w}" for w in r["warnings"]] + ([""] if r["warnings"] else [])
    p = r["p"]["selected"]
    if p["n"]:
        out += [f"Learning potential p of the selected: mean {p['mean']}, median {p['median']}, "
                f"range {p['min']} .. {p['max']} (eligible: mean {r['p']['eligible'].get('mean')}).", ""]
    if chart:
        out += [f"![p and scores]({chart})", ""]
    out += ["## Scores by model", "", "| model | role | n | mean | median | min | p10 | p90 | max |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, s in r["scores_by_model"].items():
        out.append(f"| {name} | {s['role']} | {s['n']} | " + " | ".join(
            str(s.get(k, "-")) for k in ("mean", "median", "min", "p10", "p90", "max")) + " |")
    out += ["", "## Usage by model (all runs)", "",
            "| model | generated ok | generation failed | scored ok | score failed | tokens | cost |",
            "|---|---|---|---|---|---|---|"]
    gen, sc = r["usage"]["generation"], r["usage"]["scoring"]
    for name in gen:
        g, s = gen[name], sc[name]
        tokens = g["prompt_tokens"] + g["completion_tokens"] + s["prompt_tokens"] + s["completion_tokens"]
        out.append(f"| {name} | {g['ok']} | {g['failed']} | {s['ok']} | {s['failed']} | {tokens} | "
                   f"{g['cost'] + s['cost']:.4f} |")
    out += ["", f"## Selected ({c['selected']})", "", "| rank | id | p | best | best model | policy score |",
            "|---|---|---|---|---|---|"]
    for s in r["selected"][:max_rows]:
        out.append(f"| {s['rank']} | {s['id']} | {s['p']:.3f} | {s['best']:.3f} | {s['best_model']} "
                   f"| {s['policy_score']:.3f} |")
    if len(r["selected"]) > max_rows:
        out.append(f"\n… {len(r['selected']) - max_rows} more in report.json.")
    for reason, title in (("failed", "Dropped: a generation or score failed"),
                          ("incomplete", "Dropped: not generated or scored yet"),
                          ("too_hard", "Dropped: every competitor scored too low")):
        items = r["dropped"][reason]
        if not items:
            continue
        out += ["", f"## {title} ({len(items)})", ""]
        out += [f"- `{d['id']}`: {'; '.join(d['details'])}" for d in items[:max_rows]]
        if len(items) > max_rows:
            out.append(f"- … {len(items) - max_rows} more in report.json")
    if r["stages"]:
        out += ["", "## Stages (summed over all runs in this work dir)", "", stage_table(r["stages"])]
    return "\n".join(out) + "\n"


def plot(r: dict[str, Any], candidates: list[Candidate], selected: list[Candidate], path: Path) -> bool:
    """Histogram of p (all scored vs selected) and a box plot of scores per model, as a PNG."""
    if not candidates:
        return False
    import matplotlib  # heavy and only for the chart: imported when one is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ps = [c.p for c in candidates]
    bins = max(5, min(40, len(ps) // 3))
    ax1.hist(ps, bins=bins, color="#bbbbbb", label="all scored")
    if selected:
        ax1.hist([c.p for c in selected], bins=bins, range=(min(ps), max(ps)), color="#3b75af", label="selected")
    ax1.set_xlabel("p = best competitor score - policy score")
    ax1.set_ylabel("instructions")
    ax1.set_title("Learning potential")
    ax1.legend()
    names = list(r["scores_by_model"])
    data = [[c.policy_score if n == r["policy"] else c.competitor_scores[n] for c in candidates] for n in names]
    ax2.boxplot(data)
    ax2.set_xticks(range(1, len(names) + 1), names, rotation=20, ha="right")
    ax2.set_ylabel("score (1-10)")
    ax2.set_title("Scores by model")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return True


def write_report(work_dir: Path, r: dict[str, Any], candidates: list[Candidate], selected: list[Candidate]) -> None:
    chart = "p_histogram.png" if plot(r, candidates, selected, work_dir / "p_histogram.png") else None
    atomic_write_text(work_dir / "report.md", scrub(render_markdown(r, chart)))
    atomic_write_text(work_dir / "report.json", scrub(json.dumps(r, ensure_ascii=False, indent=1)) + "\n")
