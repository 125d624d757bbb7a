"""Evaluation reports: ``report.json``, ``report.md`` and PNG charts per run, printed tables, run comparison."""

from __future__ import annotations

import io
import json
import math
import re
import sys
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..atomic import atomic_write_bytes, atomic_write_text
from ..redact import scrub_obj
from .data import EvalInputError

MAX_LISTED_FAILURES = 50


def open_run_dir(out: str | Path | None, kind: str, label: str) -> Path:
    """The run folder (``--out``, else ``eval_runs/<kind>-<label>-<time>``), created; its path is printed."""
    if out is None:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "run"
        out = Path("eval_runs") / f"{kind}-{safe}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EvalInputError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    print(f"run folder: {out} (rerun with --out {out} to resume)", file=sys.stderr)
    return out


def run_meta(kind: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The head of a run's report: what was run, on what, when, by which version."""
    return {"benchmark": kind, "name": name, "created": now_utc(), "version": __version__, "inputs": inputs}


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def mean(values: Iterable[float]) -> float | None:
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.2f}"
    return str(v)


def text_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in cells:
        out.append("  ".join((c.rjust(w) if i else c.ljust(w)) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    return "\n".join(out)


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    esc = [[fmt(c).replace("|", "\\|") for c in r] for r in rows]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] * len(headers)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in esc]
    return "\n".join(out)


def headline_rows(report: dict[str, Any]) -> list[list[Any]]:
    return [[k, v] for k, v in report.get("headline", {}).items()]


# ---------------------------------------------------------------------------------------- charts
def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib  # heavy and only for charts: imported when one is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> Path:
    """Lay out, write the figure as a PNG atomically, and close it."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def bar_chart(
    path: Path, title: str, groups: list[str], series: dict[str, list[float | None]], ylabel: str,
    errors: dict[str, list[tuple[float, float] | None]] | None = None, ymax: float = 100.0,
) -> Path:
    """Grouped bars, one group per category, values written on the bars; a missing value is left out."""
    plt = pyplot()
    n_series = max(1, len(series))
    width = 0.8 / n_series
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) * max(1, n_series / 2) + 2), 4.5), dpi=110)
    for s_i, (label, values) in enumerate(series.items()):
        xs = [g + (s_i - (n_series - 1) / 2) * width for g in range(len(groups))]
        shown = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
        if not shown:
            continue
        yerr = None
        if errors and label in errors:
            lows, highs = [], []
            for (_, v), e in zip(shown, [e for e, v in zip(errors[label], values, strict=True) if v is not None],
                                 strict=True):
                lows.append(v - e[0] if e else 0.0)
                highs.append(e[1] - v if e else 0.0)
            yerr = [lows, highs]
        bars = ax.bar([x for x, _ in shown], [v for _, v in shown], width=width * 0.95, label=label,
                      yerr=yerr, capsize=4 if yerr else 0)
        tops = [v + (yerr[1][i] if yerr else 0.0) for i, (_, v) in enumerate(shown)]
        for b, (_, v), top in zip(bars, shown, tops, strict=True):
            ax.annotate(f"{v:.1f}", (b.get_x() + b.get_width() / 2, top), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(groups)))
    long_labels = max((len(part) for g in groups for part in g.split("\n")), default=0) > 12
    ax.set_xticklabels(groups, rotation=20 if long_labels else 0, ha="right" if long_labels else "center",
                       fontsize=9)
    ax.set_ylim(0, ymax * 1.08)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8, loc="upper right", ncol=len(series))
    return save_png(fig, path)


def charts_for(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """The PNG chart(s) for one report, by benchmark."""
    kind = report["benchmark"]
    name = f"({report['name']})" if report.get("name") else ""
    if kind == "longbench-write":
        b = report["buckets"]
        groups = [f"{k}\n(n={v['n']})" for k, v in b.items()] + [f"all\n(n={report['overall']['n']})"]
        aggs = [*b.values(), report["overall"]]
        series = {k: [a[k] for a in aggs] for k in ("S_l", "S_q", "S")}
        if all(v is None for v in series["S_q"]):
            series = {"S_l": series["S_l"]}
        return [bar_chart(out_dir / "longbench_write_by_length.png", f"LongBench-Write by required length {name}",
                          groups, series, "score (0-100)")]
    if kind == "criteria":
        d = report["by_domain"]["domain1"]
        groups = [f"{k} (n={v['n']})" for k, v in d.items()] + [f"all (n={report['overall']['n']})"]
        values = [v["score"] for v in d.values()] + [report["overall"]["score"]]
        return [bar_chart(out_dir / "criteria_by_domain.png", f"Criteria score by domain {name}", groups,
                          {"score": values}, "mean criteria score x10 (10-100)")]
    if kind == "pairwise":
        r = report["rates"]
        labels = ["win", "tie", "loss", "score"]
        return [bar_chart(out_dir / "pairwise_rates.png",
                          f"{report['inputs'].get('a_name', 'A')} vs {report['inputs'].get('b_name', 'B')} "
                          f"(n={r['n']}, 95% CI)", [f"{k} %" for k in labels],
                          {"rate": [r[k] for k in labels]}, "percent of judged pairs",
                          errors={"rate": [tuple(r["ci"][k]) if r["ci"][k] else None for k in labels]})]
    return []


# ---------------------------------------------------------------------------------------- markdown
def _detail_tables(report: dict[str, Any]) -> list[str]:
    kind = report["benchmark"]
    if kind == "longbench-write":
        rows = [[k, v["n"], v["S_l"], v["n_quality"], v["S_q"], v["S"]]
                for k, v in [*report["buckets"].items(), ("all", report["overall"])]]
        out = ["## By required length", markdown_table(["bucket", "n", "S_l", "n judged", "S_q", "S"], rows)]
        dims = report["overall"].get("dims")
        if dims:
            out += ["## Quality dimensions (0-100)",
                    markdown_table(["dimension", "score"], [[k, v] for k, v in dims.items()])]
        return out
    if kind == "criteria":
        out = []
        for level in ("domain1", "domain2"):
            rows = [[k, v["n"], v["score"]] for k, v in report["by_domain"][level].items()]
            out += [f"## By {level}", markdown_table([level, "n", "score (x10)"], rows)]
        return out
    if kind == "pairwise":
        r = report["rates"]
        rows = [[k, r["counts"].get(k, ""), r[k], *(r["ci"][k] or [None, None])] for k in ("win", "tie", "loss")]
        rows.append(["score (win + tie/2)", "", r["score"], *(r["ci"]["score"] or [None, None])])
        return ["## Rates (percent of judged pairs, A's point of view)",
                markdown_table(["outcome", "count", "rate", "95% low", "95% high"], rows),
                f"Position disagreement (the two orders gave different verdicts): {fmt(report['disagreement_rate'])}%"]
    return []


def render_markdown(report: dict[str, Any], charts: list[Path],
                    details: Callable[[dict[str, Any]], list[str]] = _detail_tables) -> str:
    """The run's ``report.md``; ``details`` gives the benchmark's own sections (a list of Markdown blocks)."""
    title = report.get("title") or f"{report['benchmark']} evaluation {report.get('name', '')}".rstrip()
    lines = [f"# {title}", "", f"Created {report.get('created')} with writing-rl {report.get('version')}.", ""]
    if report.get("summary"):
        lines += [report["summary"], ""]
    lines += ["## Inputs", markdown_table(["input", "value"], list(map(list, report.get("inputs", {}).items()))), ""]
    if report.get("judge"):
        lines += ["## Judge settings", markdown_table(["setting", "value"], list(map(list, report["judge"].items()))),
                  ""]
    lines += ["## Headline", markdown_table(["metric", "value"], headline_rows(report)), ""]
    for block in details(report):
        lines += [block, ""]
    for c in charts:
        lines += [f"![{c.stem}]({c.name})", ""]
    failures = report.get("failures") or []
    lines.append(f"## Failures ({len(failures)})")
    if failures:
        lines.append(report.get("failures_note")
                     or "Excluded from every score above; rerun with the same `--out` to retry them.")
        lines += [f"- `{f['id']}` ({f['stage']}): {f['error']}" for f in failures[:MAX_LISTED_FAILURES]]
        if len(failures) > MAX_LISTED_FAILURES:
            lines.append(f"- ... and {len(failures) - MAX_LISTED_FAILURES} more in report.json")
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def write_run(
    out_dir: str | Path,
    report: dict[str, Any],
    charts: Callable[[dict[str, Any], Path], list[Path]] = charts_for,
    details: Callable[[dict[str, Any]], list[str]] = _detail_tables,
) -> dict[str, Path]:
    """Write charts, ``report.json`` and ``report.md`` into ``out_dir``; returns their paths.

    ``charts`` and ``details`` default to the eval benchmarks'; other reports (the judge audit) pass theirs.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report.update(scrub_obj(report))  # failure reasons may carry what a server echoed, key included
    made = charts(report, out)
    report["charts"] = [c.name for c in made]
    atomic_write_text(out / "report.json", json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n")
    atomic_write_text(out / "report.md", render_markdown(report, made, details))
    return {"json": out / "report.json", "markdown": out / "report.md", **{c.stem: c for c in made}}


# ---------------------------------------------------------------------------------------- compare
def load_report(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    if not p.is_file():
        raise EvalInputError(f"{p} does not exist; give a run folder written by `writing-rl eval` or its report.json")
    try:
        report = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EvalInputError(f"{p} is not a readable report ({e})") from None
    if not isinstance(report, dict) or not isinstance(report.get("headline"), dict):
        raise EvalInputError(f"{p} has no 'headline' numbers; is it a writing-rl eval report?")
    report["_path"] = str(p)
    return report


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Every headline number both runs have, in the first run's order, with ``b - a``."""
    rows = []
    for k, va in a["headline"].items():
        if k not in b["headline"]:
            continue
        vb = b["headline"][k]
        num = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb))
        rows.append({"metric": k, "run1": va, "run2": vb, "diff": (vb - va) if num else None})
    return rows


def comparison_text(a: dict[str, Any], b: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The comparison as printed: each run's judge and the table (stdout), and the notes (stderr)."""
    notes = []
    if a.get("benchmark") != b.get("benchmark"):
        notes.append(f"note: comparing a {a.get('benchmark')} run with a {b.get('benchmark')} run")
    out = []
    for side, r in (("run1", a), ("run2", b)):
        j = r.get("judge") or {}
        out.append(f"{side}: {r['_path']}  judge={j.get('model', 'n/a')} T={j.get('temperature', 'n/a')} "
                   f"max_tokens={j.get('max_tokens', 'n/a')}")
    ja, jb = a.get("judge") or {}, b.get("judge") or {}
    changed = [k for k in ("model", "temperature", "max_tokens", "template_sha256") if ja.get(k) != jb.get(k)]
    if changed:
        notes.append(f"warning: judge settings differ ({', '.join(changed)}); numbers may not be comparable")
    out.append(text_table(["metric", "run1", "run2", "diff"],
                          [[r["metric"], r["run1"], r["run2"], _signed(r["diff"])] for r in rows]))
    return "\n".join(out), notes


def _signed(v: Any) -> str:
    return "n/a" if v is None else (f"{v:+.2f}" if isinstance(v, float) else f"{v:+d}")
