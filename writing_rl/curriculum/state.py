"""One experiment's curriculum: the level machine (``levels.py``), its files (``index_store.py``) and history.

``finalize`` is where a step closes: the index file's edits are synced, the step's level-ups applied,
the history extended, and the index and sidecar written once. Reading a level writes nothing: a valid
edit of the index file saved since the last step is taken in memory at the step's first request; an
invalid one is rejected at the close. A new run without a checkpoint keeps the levels and starts the
step counter and history anew; a checkpoint's snapshot replaces everything.
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path
from typing import Any

from .index_file import read_index
from .index_store import IndexStore
from .levels import CurriculumConfig, CurriculumError, LevelMachine
from .snapshot import make_snapshot, read_snapshot

__all__ = ["CurriculumConfig", "CurriculumError", "CurriculumState"]

log = logging.getLogger("writing_rl.curriculum")


class CurriculumState:
    """Levels, pins, pending outcomes and history for one experiment (single-threaded)."""

    def __init__(self, cfg: CurriculumConfig, levels: dict[str, int] | None = None) -> None:
        self.cfg = cfg
        self.index_path = Path(cfg.index_file)
        self.machine = LevelMachine(cfg, read_index(self.index_path) if levels is None else levels,
                                    str(self.index_path))
        self.store = IndexStore(self.machine, self.index_path)
        self.state_path = self.store.state_path
        self._logged = 0
        side = self.store.load_sidecar()
        self.machine.last_closed = self.machine.current_step = side.get("step", 0)
        self.history: list[dict[str, Any]] = list(side.get("history", []))
        self.machine.max_level.update(side.get("max_level", {}))

    # the machine's state, as the owner and the tests read it
    @property
    def levels(self) -> dict[str, int]:
        return self.machine.levels

    @property
    def max_level(self) -> dict[str, int]:
        return self.machine.max_level

    @property
    def events(self) -> list[str]:
        return self.machine.events

    @property
    def last_finalized(self) -> int:
        return self.machine.last_closed

    def _log_events(self) -> None:
        for msg in self.machine.events[self._logged:]:
            log.warning("[curriculum] %s", msg)
        self._logged = len(self.machine.events)

    def learn_ladders(self, max_level: dict[Any, int]) -> None:
        """Every training sample's last level, from the data (see ``LevelMachine.learn_ladders``)."""
        self.machine.learn_ladders(max_level)

    def start_new_run(self) -> None:
        """No checkpoint to resume: keep the index file's levels, start the step counter and history anew."""
        m = self.machine
        if m.last_closed or self.history:
            where = self.store.keep_previous_run()
            m.note(f"new run without a checkpoint: levels kept from {self.index_path}, step counter restarted "
                   f"(the previous run had reached step {m.last_closed}{where})")
        m.last_closed = m.current_step = 0
        self.history = []
        self.store.write_sidecar(0, self.history)
        self._log_events()

    def level_for(self, sample_id: Any, step: int, n_refs: int, validation: bool = False) -> int:
        """The reference level to judge this rollout against; a step's first request takes in a valid edit."""
        if not validation and step > self.machine.current_step:
            self.store.peek()
        level = self.machine.level_for(sample_id, step, n_refs, validation)
        self._log_events()
        return level

    def record(self, sample_id: Any, step: int, outcome: str, validation: bool = False) -> None:
        """One judgment's outcome (validation ones move nothing)."""
        if not validation:
            self.machine.record(sample_id, step, outcome)
            self._log_events()

    def finalize(self, step: int, reported: dict[str, float] | None = None) -> dict[str, float]:
        """Close ``step`` (idempotent): level-ups, history, files; the step's metrics with ``reported`` ones."""
        if step <= self.machine.last_closed:
            return self.history_metrics(step)
        # Closing a step allocates (and frees) a few hundred thousand small objects and creates no
        # reference cycles; pausing the cyclic collector meanwhile removes most of its cost.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self.store.sync()
            advanced = self.machine.close(step)
            metrics = {**(reported or {}), **self.machine.metrics(advanced)}
            entry: dict[str, Any] = {"step": step, "time": time.time(), "histogram": self.histogram(),
                                     "metrics": metrics}
            self._log_events()
            if self.machine.events:
                entry["events"] = self.machine.events[-20:]
                self.machine.events.clear()
                self._logged = 0
            self.history.append(entry)
            self.store.write_index()
            self.store.write_sidecar(step, self.history)
            self._log_events()
            return metrics
        finally:
            if enabled:
                gc.enable()

    def histogram(self) -> dict[str, int]:
        return self.machine.histogram()

    def history_metrics(self, step: int) -> dict[str, float]:
        for h in reversed(self.history):
            if h["step"] == step:
                return dict(h["metrics"])
        return {}

    def snapshot(self) -> dict[str, Any]:
        m = self.machine
        return make_snapshot(self.cfg.experiment, m.last_closed, m.levels, m.max_level, self.history)

    def restore(self, snap: dict[str, Any], source: str = "snapshot") -> None:
        """Replace the state with a checkpoint's and write the index file from it."""
        step, levels, max_level, history = read_snapshot(snap, source)
        m = self.machine
        m.levels.clear()
        m.levels.update(levels)
        m.max_level.clear()
        m.max_level.update(max_level)
        m.ladders_changed = True
        m.last_closed = m.current_step = step
        self.history = history
        m.pins.clear()
        m.pending.clear()
        m.note(f"restored the curriculum of step {step} from {source}")
        self.store.write_index()
        self.store.write_sidecar(step, self.history)
        self._log_events()
