"""Read-only views of a curriculum: level histogram, progress summary and the history chart."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from .index_file import IndexFileError, read_index, read_sidecar, state_path


def load_sidecar(index_file: str | Path) -> dict[str, Any]:
    """The sidecar's content ({} when there is none); a malformed one is an error naming the file and field."""
    side, problems = read_sidecar(index_file)
    if problems:
        raise IndexFileError(f"{problems[0]}; fix or delete that file (it holds only the last step, reference "
                             f"counts and history; the levels are in {index_file})")
    return side


def summary(index_file: str | Path, ref_counts: dict[str, int] | None = None) -> dict[str, Any]:
    """Histogram, mean level and the share at the last reference (when reference counts are known)."""
    levels = read_index(index_file)
    side = load_sidecar(index_file)
    max_level = {k: v - 1 for k, v in (ref_counts or {}).items()} or {
        k: int(v) for k, v in (side.get("max_level") or {}).items()
    }
    hist = Counter(levels.values())
    known = [k for k in levels if k in max_level]
    at_last = [k for k in known if levels[k] >= max_level[k]]
    return {
        "index_file": str(index_file),
        "samples": len(levels),
        "step": side.get("step"),
        "level_mean": sum(levels.values()) / len(levels) if levels else 0.0,
        "level_max": max(levels.values()) if levels else 0,
        "histogram": {str(k): hist[k] for k in sorted(hist)},
        "at_last_level": len(at_last),
        "at_last_level_share": (len(at_last) / len(known)) if known else None,
        "reference_counts_known_for": len(known),
    }


def plot_history(index_file: str | Path, out_png: str | Path) -> Path:
    """Stacked area chart of how many samples sit at each level, step by step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = load_sidecar(index_file).get("history", [])
    if not history:
        raise ValueError(f"{state_path(index_file)} has no history yet (it is written at the end of each step)")
    steps = [h["step"] for h in history]
    levels = sorted({int(k) for h in history for k in h["histogram"]})
    series = [[h["histogram"].get(str(lv), 0) for h in history] for lv in levels]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.stackplot(steps, series, labels=[f"level {lv}" for lv in levels], alpha=0.85)
    ax.set_xlabel("training step")
    ax.set_ylabel("samples")
    ax.set_title(f"Reference levels over training: {Path(index_file).name}")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="reference")
    ax.margins(x=0)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
