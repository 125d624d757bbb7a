"""Curriculum state: step boundaries, manual edits, crash safety, checkpoints and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from writing_rl.curriculum.index_file import IndexFileError, create_index, read_index, state_path
from writing_rl.curriculum.owner import CurriculumOwner, reset_local_owners
from writing_rl.curriculum.snapshot import SNAPSHOT_NAME, resume_checkpoint_dir
from writing_rl.curriculum.state import CurriculumConfig, CurriculumState
from writing_rl.run_config import RewardOptions
from writing_rl.trainer import CurriculumDriver


def make_state(tmp_path, n=4, **kw) -> CurriculumState:
    idx = tmp_path / "index_e.json"
    if not idx.exists():
        create_index(idx, range(n))
    return CurriculumState(CurriculumConfig(index_file=str(idx), experiment="e", **kw))


def play(state, step, wins: dict[int, int], n_refs=3, rollouts=1):
    """Judge ``rollouts`` rollouts per sample at ``step``; ``wins[id]`` of them win."""
    for sid in wins:
        for k in range(rollouts):
            state.level_for(sid, step, n_refs)
            state.record(sid, step, "win" if k < wins[sid] else "loss")


def test_levels_move_only_at_the_step_boundary_and_one_at_a_time(tmp_path):
    s = make_state(tmp_path)
    play(s, 1, {0: 1, 1: 0})
    assert read_index(s.index_path) == {"0": 0, "1": 0, "2": 0, "3": 0}
    s.finalize(1)
    assert read_index(s.index_path)["0"] == 1
    for step in range(2, 8):
        play(s, step, {0: 1})
        s.finalize(step)
    assert read_index(s.index_path)["0"] == 2  # capped at the last of 3 references


def test_finalize_is_idempotent_and_history_is_kept(tmp_path):
    s = make_state(tmp_path)
    play(s, 1, {0: 1, 2: 1})
    m1 = s.finalize(1)
    assert s.finalize(1) == m1
    side = json.loads(state_path(s.index_path).read_text())
    assert side["step"] == 1 and side["history"][-1]["histogram"] == {"0": 2, "1": 2}


def test_state_survives_a_restart_via_the_files(tmp_path):
    s = make_state(tmp_path)
    play(s, 1, {0: 1})
    s.finalize(1)
    again = make_state(tmp_path)
    assert again.levels["0"] == 1 and again.last_finalized == 1 and again.max_level["0"] == 2


def test_valid_manual_edit_is_picked_up_at_the_next_step(tmp_path, caplog):
    s = make_state(tmp_path)
    play(s, 1, {0: 1})
    s.finalize(1)
    time.sleep(0.01)
    s.index_path.write_text(json.dumps({"0": 0, "1": 2, "2": 0, "3": 0}))
    assert s.level_for(1, 2, 3) == 2 and s.level_for(0, 2, 3) == 0
    assert any("picked up a manual edit" in e for e in s.history[-1].get("events", []) + s.events)


@pytest.mark.parametrize("bad,why", [
    ("{not json", "not valid JSON"),
    ('{"0": -1, "1": 0, "2": 0, "3": 0}', "non-negative integer"),
    ('{"0": 0, "1": 0, "2": 0, "3": 0, "99": 0}', "unknown sample id"),
    ('{"0": 0, "1": 0}', "removed"),
    ('{"0": 7, "1": 0, "2": 0, "3": 0}', "beyond its last reference"),
    ('[0, 0]', "must be a JSON object"),
])
def test_invalid_manual_edit_is_rejected_and_the_last_good_state_kept(tmp_path, bad, why):
    s = make_state(tmp_path)
    play(s, 1, {0: 1})
    s.finalize(1)
    time.sleep(0.01)
    s.index_path.write_text(bad)
    s.level_for(0, 2, 3)  # reading a level writes nothing: the edit is judged when the step closes
    assert s.index_path.read_text() == bad and not list(tmp_path.glob("index_e.json.rejected-*"))
    s.finalize(2)
    assert read_index(s.index_path) == {"0": 1, "1": 0, "2": 0, "3": 0}
    assert any(why in e for e in s.history[-1]["events"])
    saved = list(tmp_path.glob("index_e.json.rejected-*"))
    assert saved and saved[0].read_text() == bad  # the user's edit is kept aside, not lost


def test_edit_during_a_step_wins_over_that_steps_wins(tmp_path):
    s = make_state(tmp_path)
    play(s, 1, {0: 1})
    time.sleep(0.01)
    s.index_path.write_text(json.dumps({"0": 2, "1": 0, "2": 0, "3": 0}))
    s.finalize(1)
    assert read_index(s.index_path)["0"] == 2


def test_bad_index_files_have_clear_errors(tmp_path):
    with pytest.raises(IndexFileError, match="does not exist: create it with"):
        read_index(tmp_path / "nope.json")
    p = tmp_path / "i.json"
    p.write_text('{"a": 1}')
    with pytest.raises(IndexFileError, match="not an integer"):
        read_index(p)
    create_index(tmp_path / "x.json", range(2))
    with pytest.raises(FileExistsError, match="--force"):
        create_index(tmp_path / "x.json", range(3))
    assert create_index(tmp_path / "x.json", range(3), overwrite=True) == {"0": 0, "1": 0, "2": 0}


WRITER = r"""
import sys
from writing_rl.curriculum.state import CurriculumConfig, CurriculumState
s = CurriculumState(CurriculumConfig(index_file=sys.argv[1]))
print("ready", flush=True)
step = s.last_finalized
while True:
    step += 1
    for i in range(0, 20000, 7):
        s.level_for(i, step, 1000)
        s.record(i, step, "win")
    s.finalize(step)
"""


def test_kill_9_mid_write_never_leaves_a_broken_or_older_file(tmp_path):
    idx = tmp_path / "index_big.json"
    create_index(idx, range(20000))
    prev_total = 0
    for round_ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(idx)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 0.4 + 0.15 * round_
        while time.monotonic() < deadline:  # readers see complete files while the writer runs
            levels = read_index(idx)
            assert len(levels) == 20000
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        levels = read_index(idx)
        total = sum(levels.values())
        assert len(levels) == 20000 and total >= prev_total
        prev_total = total
    assert prev_total > 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) <= 6  # at most one orphan temp file per kill, never the real file


def _ckpt(base, step, owner_snap):
    d = base / f"global_step_{step}"
    d.mkdir(parents=True)
    (d / SNAPSHOT_NAME).write_text(json.dumps(owner_snap))
    (base / "latest_checkpointed_iteration.txt").write_text(str(step))
    return d


def test_resume_restores_the_checkpointed_levels(tmp_path):
    s = make_state(tmp_path)
    ckpts = tmp_path / "ckpt"
    snaps = {}
    for step in range(1, 5):
        play(s, step, {0: 1, step % 4: 1})
        s.finalize(step)
        snaps[step] = s.snapshot()
        if step in (2, 4):
            _ckpt(ckpts, step, snaps[step])
    after4 = read_index(s.index_path)
    cfg = dict(index_file=str(s.index_path), experiment="e")
    # resume from the older checkpoint (step 2): levels must equal what they were after step 2
    owner = CurriculumOwner(cfg, {"resume_mode": "resume_path", "resume_from_path": str(ckpts / "global_step_2")})
    assert read_index(s.index_path) == snaps[2]["levels"] != after4
    assert owner.state.last_finalized == 2 and [h["step"] for h in owner.state.history] == [1, 2]
    # auto resume follows verl's tracker file (step 4)
    CurriculumOwner(cfg, {"resume_mode": "auto", "default_local_dir": str(ckpts)})
    assert read_index(s.index_path) == snaps[4]["levels"]
    # disable keeps the running file as it is
    s.index_path.write_text(json.dumps({"0": 0, "1": 0, "2": 0, "3": 0}))
    CurriculumOwner(cfg, {"resume_mode": "disable", "default_local_dir": str(ckpts)})
    assert read_index(s.index_path) == {"0": 0, "1": 0, "2": 0, "3": 0}


def test_resume_checkpoint_dir_follows_verl_modes(tmp_path):
    assert resume_checkpoint_dir({"resume_mode": "auto", "default_local_dir": str(tmp_path)}) is None
    _ckpt(tmp_path, 7, {})
    assert resume_checkpoint_dir({"resume_mode": "auto", "default_local_dir": str(tmp_path)}).endswith("global_step_7")
    assert resume_checkpoint_dir({"resume_mode": "disable", "default_local_dir": str(tmp_path)}) is None


def test_trainer_side_snapshot_closes_the_step_and_writes_it_into_the_checkpoint(tmp_path):
    reset_local_owners()
    idx = tmp_path / "index_cb.json"
    create_index(idx, range(3))
    driver = CurriculumDriver(RewardOptions(index_file=str(idx), experiment="cb"), None, {"0": 1, "1": 1, "2": 1})
    owner = driver.owner.target
    owner.state.level_for(1, 3, 2)
    owner.state.record(1, 3, "win")
    ckdir = tmp_path / "ck" / "global_step_3"
    driver.snapshot_into(3, ckdir)  # before verl writes the checkpoint: the folder may not exist yet
    snap = json.loads((ckdir / SNAPSHOT_NAME).read_text())
    assert snap["step"] == 3 and snap["levels"] == {"0": 0, "1": 1, "2": 0}
    assert read_index(idx)["1"] == 1
    reset_local_owners()


def test_a_new_run_without_a_checkpoint_keeps_levels_and_restarts_the_step_counter(tmp_path):
    reset_local_owners()
    s = make_state(tmp_path)
    for step in (1, 2, 3):
        play(s, step, {0: 1})
        s.finalize(step)
    old = s.finalize(1)  # the old run's step-1 metrics, from its history
    owner = CurriculumOwner(dict(index_file=str(s.index_path), experiment="e"), {"resume_mode": "disable"})
    st = owner.state
    assert st.levels["0"] == 2 and st.last_finalized == 0 and st.history == []
    kept = list(tmp_path.glob("index_e.state.run-*.json"))
    assert len(kept) == 1 and [h["step"] for h in json.loads(kept[0].read_text())["history"]] == [1, 2, 3]
    play(st, 1, {1: 1, 0: 0})  # step 1 of the new run counts and moves levels again
    m = st.finalize(1)
    assert st.levels["1"] == 1 and m["writing_rl/advanced"] == 1 and m != old


def test_a_checkpoint_without_the_curriculum_stops_before_training(tmp_path):
    s = make_state(tmp_path)
    ck = tmp_path / "ck" / "global_step_4"
    ck.mkdir(parents=True)
    (tmp_path / "ck" / "latest_checkpointed_iteration.txt").write_text("4")
    from writing_rl.curriculum.state import CurriculumError

    with pytest.raises(CurriculumError, match="global_step_4.*has no writing_rl_curriculum.json.*resume_path"):
        CurriculumOwner(dict(index_file=str(s.index_path), experiment="e"),
                        {"resume_mode": "auto", "default_local_dir": str(tmp_path / "ck")})


def test_ladders_from_the_data_catch_a_foreign_index_and_levels_beyond_a_ladder(tmp_path):
    from writing_rl.curriculum.state import CurriculumError

    s = make_state(tmp_path)  # ids 0..3 at level 0
    with pytest.raises(CurriculumError, match=r"2 training sample\(s\) are not in .*\['7', '9'\].*create_index_file"):
        s.learn_ladders({"0": 2, "7": 2, "9": 2})
    s.levels["1"] = 3
    with pytest.raises(CurriculumError, match=r"sample 1 is at level 3 with 3 reference\(s\)"):
        s.learn_ladders({"0": 2, "1": 2, "2": 2, "3": 2})
    s.levels["1"] = 2
    s.learn_ladders({"0": 2, "1": 2, "2": 2, "3": 2})
    assert s.max_level == {"0": 2, "1": 2, "2": 2, "3": 2}


def test_fatal_reward_errors_and_failure_storms_become_stop_reasons(tmp_path):
    import asyncio

    from writing_rl.reward_monitor import TrainingStopped

    reset_local_owners()
    idx = tmp_path / "index_f.json"
    create_index(idx, range(4))
    driver = CurriculumDriver(RewardOptions(index_file=str(idx), experiment="f", max_failed_share=0.25), None)
    monitor = driver.monitor.target

    def row(outcome):
        return {"outcome": outcome, "judge_failure_reason": "no verdict line"}

    for outcome in ["win", "failed", "loss", "tie"]:  # 1 of 4 failed: at the limit, not over
        asyncio.run(monitor.observe(1, row(outcome)))
    driver.check(1)
    asyncio.run(monitor.observe(1, row("failed")))  # 2 of 5
    with pytest.raises(TrainingStopped, match="2 of 5 judgments failed in step 1.*most common reason: no verdict"):
        driver.check(1)
    driver.check(2)  # another step's share is its own
    asyncio.run(monitor.fail("JudgeConfigError: rejected key; check OPENAI_API_KEY"))
    asyncio.run(monitor.fail("a later error"))
    with pytest.raises(TrainingStopped, match="^JudgeConfigError: rejected key; check OPENAI_API_KEY$"):
        driver.check()
    reset_local_owners()


def test_reward_wall_time_is_the_union_of_reward_intervals():
    from writing_rl.step_metrics import covered_seconds

    assert covered_seconds([]) == 0.0
    assert covered_seconds([(0, 1), (0.5, 2), (3, 4), (3.5, 3.7)]) == pytest.approx(3.0)
