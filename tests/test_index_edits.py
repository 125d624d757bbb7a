"""Manual edits of the index file are never lost: compare-and-swap step closes, in-place saves, ladders, modes."""

from __future__ import annotations

import json
import os
import random
import stat
import threading
import time
from pathlib import Path

import pytest

from writing_rl.curriculum.index_file import create_index, read_index
from writing_rl.curriculum.state import CurriculumConfig, CurriculumError, CurriculumState
from writing_rl.data.check import load_ladders
from writing_rl.data.schema import DataError

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def make_state(tmp_path: Path, n: int = 6) -> CurriculumState:
    idx = tmp_path / "index_e.json"
    if not idx.exists():
        create_index(idx, range(n))
    return CurriculumState(CurriculumConfig(index_file=str(idx), experiment="e"))


def save_by_rename(path: Path, levels: dict[str, int]) -> None:
    tmp = path.with_name(path.name + ".editor-swap")
    tmp.write_text(json.dumps(levels))
    os.replace(tmp, path)


def save_in_place(path: Path, levels: dict[str, int], pause_s: float = 0.0) -> None:
    text = json.dumps(levels)
    with open(path, "w") as f:  # truncates, then writes: a reader may catch it half-way
        f.write(text[: len(text) // 2])
        f.flush()
        if pause_s:
            time.sleep(pause_s)
        f.write(text[len(text) // 2:])


def win(state: CurriculumState, step: int, ids: list[int], n_refs: int = 3) -> None:
    for sid in ids:
        state.level_for(sid, step, n_refs)
        state.record(sid, step, "win")


# ----------------------------------------------------------------------------- ladders
def test_learn_ladders_rejects_a_level_beyond_the_ladder_at_start(tmp_path: Path) -> None:
    idx = tmp_path / "index_e.json"
    idx.write_text(json.dumps({"0": 0, "1": 5, "2": 1}))
    s = CurriculumState(CurriculumConfig(index_file=str(idx), experiment="e"))
    with pytest.raises(CurriculumError, match=r"sample 1 is at level 5 with 3 reference\(s\)"):
        s.learn_ladders({0: 2, 1: 2, 2: 2})


def test_an_out_of_range_edit_of_a_sample_never_drawn_is_rejected(tmp_path: Path) -> None:
    s = make_state(tmp_path)
    s.learn_ladders({str(i): 2 for i in range(6)})
    win(s, 1, [0])
    s.finalize(1)
    levels = read_index(s.index_path)
    save_by_rename(s.index_path, {**levels, "5": 3})  # sample 5 was never drawn in this run
    win(s, 2, [0])
    s.finalize(2)  # the step close judges the edit
    assert any("sample 5: level 3 is beyond its last reference (2)" in e for e in s.history[-1]["events"])
    assert read_index(s.index_path)["5"] == 0
    kept = list(tmp_path.glob("index_e.json.rejected-*"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["5"] == 3
    save_by_rename(s.index_path, {**read_index(s.index_path), "5": 2})  # in range: taken
    s.finalize(3)
    assert read_index(s.index_path)["5"] == 2


def test_load_ladders_reads_the_built_parquet(tmp_path: Path) -> None:
    ladders = load_ladders(SAMPLE)
    assert len(ladders) == 22 and set(ladders.values()) == {2}
    assert load_ladders(SAMPLE / "train.parquet") == ladders
    with pytest.raises(DataError, match="does not exist"):
        load_ladders(tmp_path)
    (tmp_path / "train.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="not a readable training parquet"):
        load_ladders(tmp_path)


# ----------------------------------------------------------------------------- edits saved during a step close
@pytest.mark.parametrize("save", [save_by_rename, save_in_place], ids=["rename", "in-place"])
def test_an_edit_saved_while_the_step_closes_takes_effect(tmp_path: Path, save, monkeypatch) -> None:
    s = make_state(tmp_path)
    win(s, 1, [0, 1])
    original = s.machine.advances

    def advances_and_edit(outcomes):  # the user saves just after the close read the file
        if not getattr(advances_and_edit, "done", False):
            advances_and_edit.done = True
            save(s.index_path, {"0": 0, "1": 0, "2": 0, "3": 2, "4": 0, "5": 1})
        return original(outcomes)

    monkeypatch.setattr(s.machine, "advances", advances_and_edit)
    s.finalize(1)
    assert read_index(s.index_path) == {"0": 1, "1": 1, "2": 0, "3": 2, "4": 0, "5": 1}  # both: wins and the edit
    assert any("saved while the step closed: 2 sample(s) changed" in e for e in s.events)  # next step's log
    assert not list(tmp_path.glob("index_e.json.rejected-*"))


def test_an_invalid_edit_saved_while_the_step_closes_is_kept_aside(tmp_path: Path, monkeypatch) -> None:
    s = make_state(tmp_path)
    win(s, 1, [0])
    original = s.machine.advances

    def advances_and_edit(outcomes):
        save_by_rename(s.index_path, {"0": 0, "1": -4})
        return original(outcomes)

    monkeypatch.setattr(s.machine, "advances", advances_and_edit)
    s.finalize(1)
    assert read_index(s.index_path)["0"] == 1
    kept = list(tmp_path.glob("index_e.json.rejected-*"))
    assert len(kept) == 1 and json.loads(kept[0].read_text()) == {"0": 0, "1": -4}


def test_an_edit_that_wins_over_an_advance_of_the_same_sample(tmp_path: Path, monkeypatch) -> None:
    s = make_state(tmp_path)
    win(s, 1, [0])
    original = s.machine.advances

    def advances_and_edit(outcomes):
        save_in_place(s.index_path, {**{str(i): 0 for i in range(6)}, "0": 2})
        return original(outcomes)

    monkeypatch.setattr(s.machine, "advances", advances_and_edit)
    s.finalize(1)
    assert read_index(s.index_path)["0"] == 2  # the user's value, not the win's 1


# ----------------------------------------------------------------------------- edits saved in place
def test_an_in_place_save_caught_half_written_is_read_again_not_rejected(tmp_path: Path) -> None:
    s = make_state(tmp_path)
    s.finalize(1)
    writer = threading.Thread(target=save_in_place, args=(s.index_path, {**s.levels, "4": 2}, 0.3))
    writer.start()
    time.sleep(0.1)  # the file now holds half a JSON object
    win(s, 2, [0])  # the step boundary syncs from the file
    writer.join()
    assert s.levels["4"] == 2
    assert not list(tmp_path.glob("index_e.json.rejected-*"))


def test_rejected_edits_in_the_same_second_are_all_kept(tmp_path: Path) -> None:
    s = make_state(tmp_path)
    for step, bad in enumerate(["{broken", '{"0": "x"}', "[1]"], start=1):
        s.index_path.write_text(bad)
        s.finalize(step)
    kept = sorted(p.read_text() for p in tmp_path.glob("index_e.json.rejected-*"))
    assert kept == sorted(["{broken", '{"0": "x"}', "[1]"])


# ----------------------------------------------------------------------------- racing edits
def test_edits_racing_step_closes_are_each_applied(tmp_path: Path) -> None:
    """A writer saves edits (by rename and in place) at random moments while steps close back to back."""
    n, edits = 20_000, 40
    idx = tmp_path / "index_e.json"
    create_index(idx, range(n))
    s = CurriculumState(CurriculumConfig(index_file=str(idx), experiment="e"))
    targets = list(range(n - edits, n))  # never judged: only the edits move them
    stop = threading.Event()
    wanted: dict[str, int] = {}

    def writer() -> None:
        rng = random.Random(5)
        for i, sid in enumerate(targets):
            time.sleep(rng.uniform(0.0, 0.05))
            while True:
                try:
                    current = json.loads(idx.read_bytes())
                    break
                except ValueError:  # the owner never leaves a partial file; only our own in-place saves do
                    time.sleep(0.001)
            current[str(sid)] = 1 + i % 2
            wanted[str(sid)] = 1 + i % 2
            (save_by_rename if i % 2 else save_in_place)(idx, current)
        stop.set()

    t = threading.Thread(target=writer)
    t.start()
    step = 0
    while not stop.is_set() or step < 3:
        step += 1
        win(s, step, list(range(0, 2000, 3)), n_refs=1000)
        s.finalize(step)
    t.join()
    step += 1
    s.level_for(0, step, 1000)  # the next step boundary picks up the last edit
    s.finalize(step)
    final = read_index(idx)
    lost = [sid for sid, lv in wanted.items() if final[sid] != lv]
    assert lost == [] and not list(tmp_path.glob("index_e.json.rejected-*")), (lost, step)


# ----------------------------------------------------------------------------- files
def test_index_and_sidecar_follow_the_umask_and_keep_a_chosen_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        s = make_state(tmp_path)
        win(s, 1, [0])
        s.finalize(1)
        assert stat.S_IMODE(os.stat(s.index_path).st_mode) == 0o644
        assert stat.S_IMODE(os.stat(s.state_path).st_mode) == 0o644
        os.chmod(s.index_path, 0o640)
        win(s, 2, [0])
        s.finalize(2)
        assert stat.S_IMODE(os.stat(s.index_path).st_mode) == 0o640
    finally:
        os.umask(old)


def test_orphan_temp_files_of_killed_writers_are_removed_at_start(tmp_path: Path) -> None:
    s = make_state(tmp_path)
    s.finalize(1)
    old_orphans = [tmp_path / ".index_e.json.k1ll3d.tmp", tmp_path / ".index_e.state.json.x9.tmp"]
    fresh = tmp_path / ".index_e.json.w0rk1ng.tmp"
    for p in [*old_orphans, fresh]:
        p.write_text("{")
    for p in old_orphans:
        os.utime(p, (time.time() - 600, time.time() - 600))
    make_state(tmp_path)
    assert not any(p.exists() for p in old_orphans)
    assert fresh.exists()  # maybe a live writer's: left alone


def test_an_edit_storm_leaves_the_newest_edit_in_place_for_the_next_step(tmp_path: Path, monkeypatch) -> None:
    """Edits arriving faster than one merge: the close stops chasing them, and none is lost."""
    s = make_state(tmp_path, n=8)
    win(s, 1, [0])
    apply = s.store._apply_edit
    saved: dict[str, int] = {}

    def apply_while_the_user_saves_again(data, base, where, when):
        taken = apply(data, base, where, when)
        sid = str(2 + len(saved))
        if len(saved) < 4:  # each merge is overtaken by the next save
            saved[sid] = 2
            save_by_rename(s.index_path, {**json.loads(s.index_path.read_bytes()), sid: 2})
        return taken

    monkeypatch.setattr(s.store, "_apply_edit", apply_while_the_user_saves_again)
    save_by_rename(s.index_path, {**read_index(s.index_path), "1": 1})  # saved as the step closes
    s.finalize(1)
    assert any("the newest is left in place" in e for e in s.events)
    monkeypatch.setattr(s.store, "_apply_edit", apply)
    s.level_for(0, 2, 3)  # the next step boundary merges what was left
    s.finalize(2)
    final = read_index(s.index_path)
    assert final["0"] == 1 and final["1"] == 1 and all(final[k] == 2 for k in saved), (final, saved)
