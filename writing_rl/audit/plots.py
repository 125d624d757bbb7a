"""The audit's PNG charts: ladder accuracy by pair distance, the flip matrix, judgment latency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..eval.report import bar_chart, pyplot, save_png
from .metrics import OUTCOMES


def accuracy_chart(report: dict[str, Any], path: Path) -> Path:
    lad = report["ladder"]
    groups, values, errors = [], [], []
    for label, s in [*((f"distance {d}", v) for d, v in lad["by_distance"].items()), ("all pairs", lad["overall"])]:
        groups.append(f"{label}\n(n={s['n']})")
        values.append(s["stronger"])
        errors.append(tuple(s["ci"]["stronger"]) if s["ci"]["stronger"] else None)
    return bar_chart(path, f"Ladder accuracy of {report['judge']['model']} (95% CI); blocks under 60%", groups,
                     {"stronger reference wins": values}, "percent of judgments with a verdict",
                     errors={"stronger reference wins": errors})


def flip_matrix_chart(report: dict[str, Any], path: Path) -> Path:
    """Verdict with the stronger reference shown first (rows) against shown second (columns)."""
    plt = pyplot()
    m = report["position"]["flip_matrix"]
    cells = [[m[a][b] for b in OUTCOMES] for a in OUTCOMES]
    total = sum(map(sum, cells)) or 1
    fig, ax = plt.subplots(figsize=(5.6, 4.6), dpi=110)
    ax.imshow(cells, cmap="Blues", vmin=0, vmax=max(1, max(map(max, cells))))
    for i, row in enumerate(cells):
        for j, c in enumerate(row):
            ax.text(j, i, f"{c}\n{100 * c / total:.0f}%", ha="center", va="center", fontsize=10,
                    color="white" if c > 0.6 * max(map(max, cells)) else "black")
    labels = ["stronger wins", "tie", "weaker wins"]
    ax.set_xticks(range(3), labels, fontsize=9)
    ax.set_yticks(range(3), labels, fontsize=9)
    ax.set_xlabel("stronger reference shown second (answer B)")
    ax.set_ylabel("stronger reference shown first (answer A)")
    flip = report["position"]["flip"]
    ax.set_title(f"Verdicts in both orders (n={flip['n']} pairs); off the diagonal = flipped "
                 f"({flip['flip'] or 0:.1f}%)", fontsize=9)
    return save_png(fig, path)


def latency_chart(report: dict[str, Any], path: Path) -> Path:
    plt = pyplot()
    lat = report["reliability"]["latency_s"]
    latencies = [j["latency_s"] for j in report.get("judgments", []) if j.get("attempts")]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    ax.hist(latencies or [0.0], bins=min(40, max(5, len(latencies) // 4)), color="#4c72b0")
    for q, style in (("p50", "--"), ("p95", ":")):
        if lat[q] is not None:
            ax.axvline(lat[q], color="black", linestyle=style, label=f"{q} {lat[q]:.2f}s")
    ax.set_xlabel("seconds per judgment (retries included)")
    ax.set_ylabel("judgments")
    ax.set_title(f"Judge latency of {report['judge']['model']} (n={lat['n']})", fontsize=10)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def audit_charts(report: dict[str, Any], out_dir: Path) -> list[Path]:
    return [accuracy_chart(report, out_dir / "accuracy_by_distance.png"),
            flip_matrix_chart(report, out_dir / "flip_matrix.png"),
            latency_chart(report, out_dir / "latency.png")]
