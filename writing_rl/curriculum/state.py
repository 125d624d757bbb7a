"""The curriculum state machine of Dynamic Reference Scheduling (single-threaded, no I/O but the files).

Semantics:

* Every rollout of one sample in one training step is judged against the same level: the first
  request for (sample, step) pins the level, later ones reuse it.
* A step is finalised when the trainer says so, when a checkpoint is saved, or when a training
  trajectory of a later step arrives. Finalising applies at most one level-up per sample, when the
  step's outcomes meet the rule (``any``, ``majority`` or ``all`` of its rollouts won), capped at
  the last reference, and writes the index file atomically once.
* Failed judgments never count as wins; validation samples never move anything.
* Reference modes: ``dynamic`` (the index), ``fixed:K``, ``best`` (the last reference) and
  ``self`` (level 0). Only ``dynamic`` advances.
* A manual edit of the index file is picked up at the next step boundary if valid; an invalid
  edit is kept aside as ``<file>.rejected-<time>`` and the last good state is written back. An edit
  saved while a step closes is caught by the compare-and-swap write (``index_sync.py``) and merged
  (its values win) or rejected the same way; an edit saved in place is re-read until complete.
  Levels are checked against each sample's ladder (``learn_ladders``, or the drawn samples').
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text, remove_orphan_temps
from ..errors import WritingRLError
from .index_file import IndexFileError, decode_index, read_index, read_sidecar, sample_key, state_path
from .index_sync import IndexFile, digest, read_bytes, read_settled

log = logging.getLogger("writing_rl.curriculum")

RULES = ("any", "majority", "all")
SNAPSHOT_VERSION = 1


class CurriculumError(WritingRLError, RuntimeError):
    """Data and curriculum disagree (unknown id, empty references, level out of range)."""


class JudgeFailureRateError(RuntimeError):
    """Too many judgments failed in one step: training must stop rather than learn from noise."""


@dataclass(frozen=True)
class CurriculumConfig:
    index_file: str
    experiment: str = "default"
    rule: str = "any"
    mode: str = "dynamic"
    val_mode: str = "best"
    max_failed_share: float = 0.2
    failure_check_min: int = 32

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"advance rule {self.rule!r} is not one of {', '.join(RULES)}")
        for name in ("mode", "val_mode"):
            parse_mode(getattr(self, name), name)
        if not 0 <= self.max_failed_share <= 1:
            raise ValueError(f"max_failed_share must be within [0, 1], got {self.max_failed_share}")


def parse_mode(mode: str, what: str = "reference mode") -> tuple[str, int]:
    if mode in ("dynamic", "best", "self"):
        return mode, 0
    if mode.startswith("fixed:"):
        try:
            k = int(mode.split(":", 1)[1])
        except ValueError:
            k = -1
        if k >= 0:
            return "fixed", k
    raise ValueError(f"{what} {mode!r} must be dynamic, best, self or fixed:K (K >= 0)")


@dataclass
class StepStats:
    """What one training step's judgments looked like, for metrics and the history."""

    outcomes: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    failure_reasons: Counter = field(default_factory=Counter)
    extra: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    spans: list[tuple[float, float]] = field(default_factory=list)  # wall-clock (start, end) of each reward


def covered_seconds(spans: list[tuple[float, float]]) -> float:
    """Seconds during which at least one of the intervals was open (their union's length)."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def merge_pool_metrics(snapshots: list[dict[str, float]]) -> dict[str, float]:
    """Combine per-worker judge-pool counters: counts add up, health takes the worst, latency the max."""
    out: dict[str, float] = {}
    for snap in snapshots:
        for k, v in snap.items():
            if k not in out:
                out[k] = v
            elif k.endswith(("healthy", "healthy_endpoints")):
                out[k] = min(out[k], v)
            elif k.endswith(("latency_p50", "latency_p95")):
                out[k] = max(out[k], v)
            else:
                out[k] += v
    return out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


class CurriculumState:
    """Levels, pins, pending outcomes and history for one experiment."""

    def __init__(self, cfg: CurriculumConfig, levels: dict[str, int] | None = None) -> None:
        self.cfg = cfg
        self.index_path = Path(cfg.index_file)
        self.state_path = state_path(self.index_path)
        self.mode, self.fixed_level = parse_mode(cfg.mode)
        self.val_mode, self.val_fixed = parse_mode(cfg.val_mode, "validation reference mode")
        self.levels: dict[str, int] = dict(levels) if levels is not None else read_index(self.index_path)
        self.max_level: dict[str, int] = {}
        self.pins: dict[int, dict[str, int]] = defaultdict(dict)  # step -> sample -> pinned level
        self.pending: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        self.stats: dict[int, StepStats] = defaultdict(StepStats)
        self.val_stats = StepStats()
        self.current_step = 0
        self.last_finalized = 0
        self.history: list[dict[str, Any]] = []
        self.events: list[str] = []
        self.pool: dict[str, dict[str, float]] = {}  # latest judge-pool counters per reward worker
        self._max_level_json: str | None = None
        self._file = IndexFile(self.index_path, read_bytes(self.index_path))  # what the owner has seen
        self._parsed: dict[bytes, dict[str, int]] = {}  # levels of file contents already parsed, by digest
        for path in (self.index_path, self.state_path):  # temp files of writers killed mid-write
            for orphan in remove_orphan_temps(path):
                log.info("[curriculum] removed %s, left by a writer that was stopped mid-write", orphan)
        self._load_sidecar()

    # ------------------------------------------------------------------ file sync
    def _load_sidecar(self) -> None:
        side, problems = read_sidecar(self.index_path)
        for problem in problems:  # the sidecar holds no levels: use what is sound, say what is not
            log.warning("[curriculum] ignoring part of the curriculum sidecar: %s", problem)
        self.last_finalized = side.get("step", 0)
        self.current_step = self.last_finalized
        self.history = list(side.get("history", []))
        self.max_level = dict(side.get("max_level", {}))

    def learn_ladders(self, max_level: dict[Any, int]) -> None:
        """Record every training sample's last level (references - 1), from the data, before training.

        Raises ``CurriculumError`` naming the samples whose current level is beyond their ladder.
        From then on a manual edit setting any sample beyond its ladder is rejected, drawn or not.
        """
        ladders: dict[str, int] = {}
        for k, v in max_level.items():
            key = sample_key(k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise CurriculumError(f"sample {key}: its last reference level must be a whole number >= 0 "
                                      f"(it needs at least one reference), got {v!r}")
            ladders[key] = v
        missing = sorted((k for k in ladders if k not in self.levels), key=int)
        if missing:  # the index file was made for other data: training would stop when such a sample comes up
            ids = sorted(self.levels, key=int)
            span = f"ids {ids[0]}..{ids[-1]}" if ids else "no ids"
            raise CurriculumError(
                f"{len(missing)} training sample(s) are not in {self.index_path} ({len(ids)} samples, {span}), "
                f"e.g. {missing[:5]}: the index was made for other data; recreate it with "
                "scripts/create_index_file.py --data <train.parquet> --force"
            )
        beyond = sorted((k for k, lv in self.levels.items() if k in ladders and lv > ladders[k]), key=int)
        if beyond:
            shown = ", ".join(f"sample {k} is at level {self.levels[k]} with {ladders[k] + 1} reference(s)"
                              for k in beyond[:5])
            raise CurriculumError(
                f"{self.index_path}: {len(beyond)} level(s) beyond the sample's last reference ({shown}"
                f"{', ...' if len(beyond) > 5 else ''}); levels are 0-based: fix the file, or recreate it with "
                "scripts/create_index_file.py --data <train.parquet> --force")
        if ladders != {k: self.max_level.get(k) for k in ladders}:
            self.max_level.update(ladders)
            self._max_level_json = None

    def _parses(self, data: bytes) -> bool:
        """Whether ``data`` is complete JSON (an edit saved in place may be caught half-written)."""
        try:
            json.loads(data)
            return True
        except (ValueError, RecursionError):
            return False

    def _check_edit(self, data: bytes) -> tuple[dict[str, int] | None, str | None]:
        """The levels of an edited file, or the reason it is rejected (ids, types, levels beyond ladders)."""
        try:
            edited = decode_index(data, str(self.index_path))
        except IndexFileError as e:
            return None, str(e)
        problems = []
        unknown = sorted(set(edited) - set(self.levels), key=int)
        if unknown:
            problems.append(f"unknown sample id(s) {unknown[:5]}")
        missing = sorted(set(self.levels) - set(edited), key=int)
        if missing:
            problems.append(f"sample id(s) {missing[:5]} removed")
        beyond = sorted((k for k, v in edited.items() if k in self.max_level and v > self.max_level[k]), key=int)
        problems += [f"sample {k}: level {edited[k]} is beyond its last reference ({self.max_level[k]})"
                     for k in beyond[:5]]
        if len(beyond) > 5:
            problems.append(f"and {len(beyond) - 5} more level(s) beyond their last reference")
        if problems:
            return None, f"{self.index_path}: " + "; ".join(problems)
        return edited, None

    def _reject_edit(self, data: bytes, problem: str, where: Path | None = None) -> None:
        try:
            kept: Path | None = self._file.keep_rejected(data, where)
        except OSError as e:
            kept = None
            problem += f" (and it could not be kept aside: {e.strerror or e})"
        self._note(f"rejected a manual edit of the index file ({problem}); kept the last good state"
                   + (f"; your edit is saved as {kept}" if kept else ""))

    def sync_from_file(self) -> None:
        """Adopt a manual edit of the index file, or keep the last good state (the edit kept aside)."""
        data = self._file.read()
        if self._file.is_known(data):
            return
        if data is None:
            self._note(f"{self.index_path} was deleted; writing the current state back")
            self._write_index()
            return
        data = read_settled(self.index_path, data, self._parses) or data  # an in-place save may be unfinished
        if self._file.is_known(data):
            return
        if not self._apply_edit(data, self._file.known, self.index_path, ""):
            self._file.set_known(data)  # kept aside: the write below replaces it without taking it for news
            self._write_index()
            return
        self._file.set_known(data)

    def _levels_of(self, data: bytes | None) -> dict[str, int]:
        """The levels in file content the owner wrote or read before (cached: no re-parse at 100k samples)."""
        if data is None:
            return {}
        key = digest(data)
        if key not in self._parsed:
            try:
                self._parsed[key] = decode_index(data, str(self.index_path))
            except IndexFileError:
                self._parsed[key] = {}
        return self._parsed[key]

    def _remember(self, data: bytes, levels: dict[str, int]) -> None:
        if len(self._parsed) > 4:
            self._parsed.clear()
        self._parsed[digest(data)] = levels

    def _apply_edit(self, data: bytes, base: bytes | None, where: Path, when: str) -> bool:
        """Take a valid edit into the levels, or keep it aside; True when taken.

        The samples whose level the edit changed, relative to the content it was made from (``base``),
        take the edit's value; every other sample keeps the owner's (this step's advances included).
        """
        edited, problem = self._check_edit(data)
        if edited is None:
            self._reject_edit(data, problem or "invalid", where)
            return False
        self._remember(data, edited)
        before = self._levels_of(base)
        changed = {k: (self.levels[k], v) for k, v in edited.items() if before.get(k) != v and self.levels[k] != v}
        for k, (_, v) in changed.items():
            self.levels[k] = v
        self._note(f"picked up a manual edit of {self.index_path}{when}: {len(changed)} sample(s) changed"
                   + (f", e.g. {dict(list(changed.items())[:5])}" if changed else ""))
        return True

    def _merge_edit(self, data: bytes, base: bytes | None, where: Path) -> bytes | None:
        """An edit saved while the index was being written: merged (its changes win), or kept aside."""
        if not self._apply_edit(data, base, where, " saved while the step closed"):
            return None
        return self._index_bytes()

    def _note(self, msg: str) -> None:
        log.warning("[curriculum] %s", msg)
        self.events.append(msg)

    def _index_bytes(self) -> bytes:
        data = json.dumps(self.levels, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._remember(data, dict(self.levels))
        return data

    def _write_index(self) -> None:
        """Write the levels with a compare-and-swap: an edit saved meanwhile is merged or kept, never lost."""
        if not self._file.swap_in(self._index_bytes(), self._parses, self._merge_edit):
            self._note(f"edits of {self.index_path} kept arriving while the step closed: the newest is left in "
                       "place and merged at the next step boundary")

    def _write_sidecar(self) -> None:
        if self._max_level_json is None:  # serialised again only when a sample's reference count is new
            self._max_level_json = json.dumps(self.max_level, separators=(",", ":"))
        rest = json.dumps({"experiment": self.cfg.experiment, "step": self.last_finalized, "config": asdict(self.cfg),
                           "history": self.history}, ensure_ascii=False, separators=(",", ":"))
        atomic_write_text(self.state_path, rest[:-1] + ',"max_level":' + self._max_level_json + "}")

    def start_new_run(self) -> None:
        """No checkpoint to resume: keep the index file's levels, start the step counter and history anew.

        The previous run's sidecar (its step counter and history) is kept aside as
        ``index_<exp>.state.run-<time>.json``, so nothing of it is lost and none of it is reported again.
        """
        if self.last_finalized or self.history:
            kept = self.state_path.with_name(f"{self.state_path.name[:-5]}.run-{int(time.time())}.json")
            try:
                os.replace(self.state_path, kept)
                where = f"; its history is kept in {kept}"
            except OSError:
                where = ""
            self._note(f"new run without a checkpoint: levels kept from {self.index_path}, step counter restarted "
                       f"(the previous run had reached step {self.last_finalized}{where})")
        self.last_finalized = self.current_step = 0
        self.history = []
        self._write_sidecar()

    def failure_stop(self, step: int) -> str | None:
        """Why training must stop after ``step``'s judgments (too many failed), or None."""
        st = self.stats.get(step)
        total = sum(st.outcomes.values()) if st else 0
        if not total or st.outcomes["failed"] / total <= self.cfg.max_failed_share:
            return None
        return self._failure_message(step, st, total)

    def _failure_message(self, step: int, stats: StepStats, total: int) -> str:
        top = stats.failure_reasons.most_common(1)[0][0] if stats.failure_reasons else "unknown"
        return (f"{stats.outcomes['failed']} of {total} judgments failed in step {step} (limit "
                f"{self.cfg.max_failed_share:.0%}); most common reason: {top}. Fix the judge (key, endpoint, quota) "
                "and resume from the last checkpoint; raise reward.reward_kwargs.max_failed_share only if this "
                "is expected.")

    # ------------------------------------------------------------------ per trajectory
    def _begin_step(self, step: int) -> None:
        if step <= self.current_step:
            return
        for s in sorted(k for k in self.pending if k < step):
            self.finalize(s)
        self.current_step = step
        self.sync_from_file()

    def level_for(self, sample_id: Any, step: int, n_refs: int, validation: bool = False) -> int:
        """The reference level to judge this rollout against (pinned per sample and step)."""
        key = sample_key(sample_id)
        if n_refs < 1:
            raise CurriculumError(f"sample {key} has an empty reference list (reward_model.ground_truth.target)")
        if validation:
            mode, k = self.val_mode, self.val_fixed
        else:
            self._begin_step(step)
            mode, k = self.mode, self.fixed_level
            if key not in self.levels:
                ids = sorted(self.levels, key=int)
                span = f"ids {ids[0]}..{ids[-1]}" if ids else "no ids"
                raise CurriculumError(
                    f"sample {key} is not in {self.index_path} ({len(ids)} samples, {span}): the index was made "
                    "for other data; recreate it with scripts/create_index_file.py --data <train.parquet> --force"
                )
            if self.max_level.get(key) != n_refs - 1:
                self.max_level[key] = n_refs - 1
                self._max_level_json = None
        if mode == "best":
            return n_refs - 1
        if mode == "self":
            return 0
        if mode == "fixed":
            return min(k, n_refs - 1)
        step_pins = self.pins[step]
        pin = step_pins.get(key)
        if pin is None:
            pin = self.levels[key]
            if pin > n_refs - 1:
                raise CurriculumError(
                    f"sample {key} is at level {pin} in {self.index_path} but has only {n_refs} reference(s); "
                    "fix the file (levels are 0-based) or the data"
                )
            step_pins[key] = pin
        return pin

    def record(self, sample_id: Any, step: int, outcome: str, validation: bool = False,
               info: dict[str, Any] | None = None) -> None:
        """Record one judgment; raises ``JudgeFailureRateError`` when the step's failures pass the limit."""
        key = sample_key(sample_id)
        info = info or {}
        if info.get("pool"):
            self.pool[str(info.get("worker", "?"))] = dict(info["pool"])
        stats = self.val_stats if validation else self.stats[step]
        stats.outcomes[outcome] += 1
        stats.latencies.append(float(info.get("latency_s", 0.0)))
        stats.attempts += int(info.get("attempts", 0))
        stats.prompt_tokens += int(info.get("prompt_tokens", 0))
        stats.completion_tokens += int(info.get("completion_tokens", 0))
        if info.get("span") and not validation:
            stats.spans.append((float(info["span"][0]), float(info["span"][1])))
        stats.cached_prompt_tokens += int(info.get("cached_prompt_tokens", 0))
        for name, value in (info.get("components") or {}).items():
            if value is not None:
                stats.extra[name].append(float(value))
        if outcome == "failed":
            stats.failure_reasons[str(info.get("reason") or "unknown")[:200]] += 1
        if validation:
            return
        if step <= self.last_finalized:
            self._note(f"late judgment for sample {key} of finalised step {step}: counted, not used to advance")
        else:
            self.pending[step][key].append(outcome)
        total = sum(stats.outcomes.values())
        failed = stats.outcomes["failed"]
        if total >= self.cfg.failure_check_min and failed / total > self.cfg.max_failed_share:
            raise JudgeFailureRateError(self._failure_message(step, stats, total))

    # ------------------------------------------------------------------ step boundary
    def _advances(self, outcomes: list[str]) -> bool:
        wins = outcomes.count("win")
        if self.cfg.rule == "any":
            return wins >= 1
        if self.cfg.rule == "majority":
            return wins * 2 > len(outcomes)
        return wins == len(outcomes) and wins > 0

    def finalize(self, step: int) -> dict[str, float]:
        """Close ``step`` (idempotent): apply level-ups, write the files, return the step's metrics."""
        if step <= self.last_finalized:
            return self.history_metrics(step)
        # Closing a step allocates (and frees) a few hundred thousand small objects and creates no
        # reference cycles; pausing the cyclic collector meanwhile removes most of its cost.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._finalize(step)
        finally:
            if enabled:
                gc.enable()

    def _finalize(self, step: int) -> dict[str, float]:
        self.sync_from_file()
        advanced = 0
        levels, max_level = self.levels, self.max_level
        for s in sorted(k for k in list(self.pending) if k <= step):
            pins = self.pins.get(s, {})
            for key, outcomes in self.pending.pop(s).items():
                pinned = pins.get(key)
                if self.mode != "dynamic" or pinned is None or not self._advances(outcomes):
                    continue
                if levels.get(key) != pinned:
                    self._note(f"sample {key}: level was edited during step {s}; its wins in that step are ignored")
                    continue
                if pinned < max_level.get(key, pinned):
                    levels[key] = pinned + 1
                    advanced += 1
        for s in [k for k in self.pins if k <= step]:
            del self.pins[s]
        self.last_finalized = step
        self.current_step = max(self.current_step, step)
        metrics = self._metrics(step, advanced)
        entry = {"step": step, "time": time.time(), "histogram": self.histogram(), "metrics": metrics}
        if self.events:
            entry["events"] = self.events[-20:]
            self.events = []
        self.history.append(entry)
        self.stats.pop(step, None)
        self._write_index()
        self._write_sidecar()
        return metrics

    # ------------------------------------------------------------------ reporting
    def histogram(self) -> dict[str, int]:
        c = Counter(self.levels.values())
        return {str(k): c[k] for k in sorted(c)}

    def _metrics(self, step: int, advanced: int) -> dict[str, float]:
        st = self.stats.get(step, StepStats())
        total = sum(st.outcomes.values())
        m: dict[str, float] = {}
        for o in ("win", "tie", "loss", "failed"):
            m[f"writing_rl/{o}_rate"] = st.outcomes[o] / total if total else 0.0
        m["writing_rl/empty_rate"] = st.outcomes["empty"] / total if total else 0.0
        m["writing_rl/judgments"] = float(total)
        levels = list(self.levels.values())
        m["writing_rl/level_mean"] = sum(levels) / len(levels) if levels else 0.0
        m["writing_rl/level_max"] = float(max(levels)) if levels else 0.0
        known = at_last = 0
        for k, v in self.levels.items():
            top = self.max_level.get(k)
            if top is not None:
                known += 1
                at_last += v >= top
        m["writing_rl/at_last_level_share"] = at_last / known if known else 0.0
        m["writing_rl/advanced"] = float(advanced)
        m["writing_rl/judge_latency_p50"] = _pct(st.latencies, 0.5)
        m["writing_rl/judge_latency_p95"] = _pct(st.latencies, 0.95)
        m["writing_rl/judge_attempts_mean"] = st.attempts / total if total else 0.0
        m["writing_rl/judge_prompt_tokens"] = float(st.prompt_tokens)
        m["writing_rl/judge_completion_tokens"] = float(st.completion_tokens)
        m["writing_rl/reward_wall_s"] = covered_seconds(st.spans)
        m["writing_rl/judge_cached_prompt_tokens"] = float(st.cached_prompt_tokens)
        m["writing_rl/judge_cached_share"] = st.cached_prompt_tokens / st.prompt_tokens if st.prompt_tokens else 0.0
        for name, values in st.extra.items():
            m[f"writing_rl/reward/{name}_mean"] = sum(values) / len(values) if values else 0.0
        m.update(merge_pool_metrics(list(self.pool.values())))
        return m

    def history_metrics(self, step: int) -> dict[str, float]:
        for h in reversed(self.history):
            if h["step"] == step:
                return dict(h["metrics"])
        return {}

    def validation_metrics(self) -> dict[str, float]:
        st, total = self.val_stats, sum(self.val_stats.outcomes.values())
        return {f"writing_rl/val_{o}_rate": st.outcomes[o] / total if total else 0.0 for o in ("win", "tie", "loss",
                                                                                               "failed")}

    # ------------------------------------------------------------------ checkpoints
    def snapshot(self) -> dict[str, Any]:
        return {"version": SNAPSHOT_VERSION, "experiment": self.cfg.experiment, "step": self.last_finalized,
                "levels": dict(self.levels), "max_level": dict(self.max_level), "history": list(self.history)}

    def restore(self, snap: dict[str, Any], source: str = "snapshot") -> None:
        """Replace the state with a checkpoint's and write the index file from it."""
        if snap.get("version") != SNAPSHOT_VERSION or not isinstance(snap.get("levels"), dict):
            raise CurriculumError(f"{source} is not a Writing-RL curriculum snapshot (version {SNAPSHOT_VERSION})")
        self.levels = {sample_key(k): int(v) for k, v in snap["levels"].items()}
        self.max_level = {sample_key(k): int(v) for k, v in snap.get("max_level", {}).items()}
        self._max_level_json = None
        self.last_finalized = self.current_step = int(snap.get("step", 0))
        self.history = [h for h in snap.get("history", []) if h.get("step", 0) <= self.last_finalized]
        self.pins.clear()
        self.pending.clear()
        self.stats.clear()
        self._note(f"restored the curriculum of step {self.last_finalized} from {source}")
        self._write_index()
        self._write_sidecar()
