"""The curriculum in a verl checkpoint: ``global_step_N/writing_rl_curriculum.json``, and which one verl resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .index_file import sample_key
from .levels import CurriculumError

SNAPSHOT_NAME = "writing_rl_curriculum.json"
SNAPSHOT_VERSION = 1


def make_snapshot(experiment: str, step: int, levels: dict[str, int], max_level: dict[str, int],
                  history: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": SNAPSHOT_VERSION, "experiment": experiment, "step": step, "levels": dict(levels),
            "max_level": dict(max_level), "history": list(history)}


def read_snapshot(snap: dict[str, Any], source: str) -> tuple[int, dict[str, int], dict[str, int], list[Any]]:
    """A snapshot's step, levels, ladders and history (up to its step); an error naming ``source`` if it is none."""
    if snap.get("version") != SNAPSHOT_VERSION or not isinstance(snap.get("levels"), dict):
        raise CurriculumError(f"{source} is not a Writing-RL curriculum snapshot (version {SNAPSHOT_VERSION})")
    step = int(snap.get("step", 0))
    levels = {sample_key(k): int(v) for k, v in snap["levels"].items()}
    max_level = {sample_key(k): int(v) for k, v in snap.get("max_level", {}).items()}
    history = [h for h in snap.get("history", []) if h.get("step", 0) <= step]
    return step, levels, max_level, history


def resume_checkpoint_dir(trainer_cfg: Any) -> str | None:
    """The checkpoint folder verl will resume from, following ``trainer.resume_mode``."""
    if trainer_cfg is None:
        return None
    get = trainer_cfg.get if hasattr(trainer_cfg, "get") else lambda k, d=None: getattr(trainer_cfg, k, d)
    mode = get("resume_mode", "auto")
    if mode == "disable":
        return None
    if mode == "resume_path":
        path = get("resume_from_path", None)
        return str(path) if path else None
    base = get("default_local_dir", None)
    if not base:
        return None
    tracker = Path(base) / "latest_checkpointed_iteration.txt"
    if not tracker.is_file():
        return None
    try:
        step = int(tracker.read_text().strip())
    except ValueError:
        return None
    ckpt = Path(base) / f"global_step_{step}"
    return str(ckpt) if ckpt.is_dir() else None


def snapshot_to_resume(trainer_cfg: Any) -> Path | None:
    """The snapshot file of the checkpoint verl will resume, or None for a new run.

    Raises ``CurriculumError`` when verl resumes a checkpoint that has none: the levels of that step are unknown.
    """
    ckpt = resume_checkpoint_dir(trainer_cfg)
    if not ckpt:
        return None
    path = Path(ckpt) / SNAPSHOT_NAME
    if not path.is_file():
        raise CurriculumError(
            f"verl will resume from {ckpt}, which has no {SNAPSHOT_NAME}: the levels of that step are "
            "unknown. Resume from a checkpoint that has one (trainer.resume_mode=resume_path "
            "trainer.resume_from_path=<its global_step_N folder>), or start over with "
            "trainer.resume_mode=disable to keep the index file's levels.")
    return path
