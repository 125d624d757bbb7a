"""verl's real ``main_ppo``, launched through ``train_writing_rl.sh --cpu-smoke``, on a scripted judge.

One GRPO experiment is trained three times, as a user would: a run killed after step 3 (with a
checkpoint at step 2), a resume, and a restart without a checkpoint. A PPO run checks the learning
signal, and short runs check that failures stop training with a clear message instead of hanging or
training on what is left.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from writing_rl.testing.fake_judge import FakeJudgeServer

from .harness import N_REFS, LadderJudge, Run, base_env, launch, write_data

pytestmark = pytest.mark.e2e

# topic -> the last level its policy beats: topic 3 beats every reference, the best one included.
TARGETS = {0: 0, 1: 1, 2: 2, 3: N_REFS}
TOP = N_REFS - 1


def advance(levels: dict[int, int]) -> dict[int, int]:
    """One training step under TARGETS with the `any` rule: each topic moves up at most one level."""
    return {t: lv + 1 if lv < TARGETS[t] and lv < TOP else lv for t, lv in levels.items()}


def by_topic(index: dict[str, int], ids: dict[int, int]) -> dict[int, int]:
    return {t: index[str(i)] for t, i in ids.items()}


def win_rate(levels: dict[int, int]) -> float:
    return sum(lv < TARGETS[t] for t, lv in levels.items()) / len(levels)


def assert_win_rate(m: dict[str, float], expected: float) -> None:
    """The step's logged win rate is the judge's. The tiny model's sampled answer is now and then empty, which
    scores a loss without asking the judge: that can only lower the win rate, by at most the empty share."""
    empty = m["writing_rl/empty_rate"]
    assert expected - empty - 1e-9 <= m["writing_rl/win_rate"] <= expected + 1e-9, m
    if empty == 0:
        assert m["writing_rl/win_rate"] == pytest.approx(expected), m


@pytest.fixture(scope="module")
def grpo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three launches of one experiment: killed after step 3, resumed from step 2, restarted without checkpoint."""
    root = tmp_path_factory.mktemp("grpo")
    data = root / "data"
    ids = write_data(data)
    judge = LadderJudge(targets=TARGETS)
    with FakeJudgeServer(judge) as srv:
        env = base_env(root, data, "e2e_grpo", srv.base_url, ALGO="grpo", ROLLOUT_N=2, SAVE_FREQ=2)
        first = launch(root, dict(env, TOTAL_TRAINING_STEPS=6), [],
                       kill_when=lambda seen, log: 3 in seen and "step:3 -" in log)  # closed and logged
        calls_first = list(judge.calls)
        resumed = launch(root, dict(env, TOTAL_TRAINING_STEPS=3), ["trainer.val_before_train=False"])
        sidecar = root / "running_file" / "index_e2e_grpo.state.json"
        side_after_resume = json.loads(sidecar.read_text(encoding="utf-8"))
        restarted = launch(root, dict(env, TOTAL_TRAINING_STEPS=1),
                           ["trainer.val_before_train=False", "trainer.resume_mode=disable"])
    return {"root": root, "ids": ids, "first": first, "resumed": resumed, "restarted": restarted,
            "calls_first": calls_first, "side_after_resume": side_after_resume,
            "index": root / "running_file" / "index_e2e_grpo.json", "ckpt": root / "checkpoints" / "e2e_grpo"}


def test_levels_follow_the_judge_one_step_at_a_time(grpo: dict[str, Any]) -> None:
    first: Run = grpo["first"]
    assert first.killed, first.log[-3000:]
    expected = {t: 0 for t in TARGETS}
    for step in (1, 2, 3):
        before, expected = expected, advance(expected)
        got = by_topic(first.index_by_step[step], grpo["ids"])
        assert got == expected, f"step {step}: {got} != {expected}"
        assert all(0 <= got[t] - before[t] <= 1 for t in TARGETS)


def test_validation_judges_the_best_reference_and_moves_nothing(grpo: dict[str, Any]) -> None:
    # val_before_train ran on the same four samples (split=test) before step 1. Training never reaches the
    # last reference in the first run (topic 3 is at level 3 after step 3), so every judgment against it was
    # validation: one per sample, topic 3 won its own, and still step 1 moved topic 3 by one level only.
    at_top = [c for c in grpo["calls_first"] if c[1] == TOP]
    assert sorted(at_top) == sorted((t, TOP, "B" if t == 3 else "A") for t in TARGETS)
    assert by_topic(grpo["first"].index_by_step[1], grpo["ids"])[3] == 1


def test_step_metrics_reach_the_console(grpo: dict[str, Any]) -> None:
    metrics = grpo["first"].metrics()
    levels = {t: 0 for t in TARGETS}
    for step in (1, 2, 3):
        m = metrics[step]
        after = advance(levels)
        assert_win_rate(m, win_rate(levels))
        assert m["writing_rl/failed_rate"] == 0.0
        assert m["writing_rl/judgments"] == 2 * len(TARGETS)  # rollout.n = 2
        assert m["writing_rl/advanced"] == sum(after[t] != levels[t] for t in TARGETS)
        assert m["writing_rl/level_mean"] == pytest.approx(sum(after.values()) / len(after))
        # both rollouts of a sample share the judge prompt up to the response: the loopback judge's prefix
        # cache reports the repeat, and the step metrics carry it
        assert m["writing_rl/judge_cached_prompt_tokens"] > 0 and 0 < m["writing_rl/judge_cached_share"] < 1
        assert 0 < m["writing_rl/reward_wall_s"] < m["timing_s/step"]
        levels = after


def test_verl_runs_its_synchronous_path(grpo: dict[str, Any]) -> None:
    log = grpo["first"].log
    assert "[writing_rl] verl sync path: replay buffer ReplayBuffer, gen_batch_size 4" in log, log[-3000:]
    step2 = grpo["ckpt"] / "global_step_2"
    assert (step2 / "writing_rl_curriculum.json").is_file()
    assert not (step2 / "transfer_queue").exists(), "verl saved TransferQueue state: it ran an async path"


def test_resume_restores_the_step_2_checkpoint(grpo: dict[str, Any]) -> None:
    resumed: Run = grpo["resumed"]
    assert resumed.returncode == 0, resumed.log[-3000:]
    assert "restored the curriculum of step 2" in resumed.log
    snap = json.loads((grpo["ckpt"] / "global_step_2" / "writing_rl_curriculum.json").read_text())
    at2 = advance(advance({t: 0 for t in TARGETS}))
    assert by_topic(snap["levels"], grpo["ids"]) == at2
    # the killed run had moved topic 3 to level 3 in the index file; the resume starts again from 2
    assert by_topic(resumed.index_by_step[3], grpo["ids"]) == advance(at2)
    assert_win_rate(resumed.metrics()[3], win_rate(at2))
    assert (grpo["ckpt"] / "global_step_3" / "writing_rl_curriculum.json").is_file()
    side = grpo["side_after_resume"]
    assert side["step"] == 3 and [h["step"] for h in side["history"]] == [1, 2, 3]


def test_restart_without_checkpoint_keeps_levels_and_restarts_steps(grpo: dict[str, Any]) -> None:
    restarted: Run = grpo["restarted"]
    assert restarted.returncode == 0, restarted.log[-3000:]
    assert "new run without a checkpoint" in restarted.log
    at3 = advance(advance(advance({t: 0 for t in TARGETS})))
    assert by_topic(restarted.index_by_step[1], grpo["ids"]) == advance(at3)
    m = restarted.metrics()[1]
    assert_win_rate(m, win_rate(at3))  # this run's judgments, not step 1's of old
    assert m["writing_rl/advanced"] == 1
    side = json.loads(grpo["index"].with_name("index_e2e_grpo.state.json").read_text())
    assert side["step"] == 1 and [h["step"] for h in side["history"]] == [1]
    kept = sorted(grpo["index"].parent.glob("index_e2e_grpo.state.run-*.json"))
    assert kept and [h["step"] for h in json.loads(kept[-1].read_text())["history"]] == [1, 2, 3]


def test_ppo_trains_the_actor_and_the_critic(tmp_path: Path, ladder_judge: tuple[LadderJudge, FakeJudgeServer]) -> None:
    judge, srv = ladder_judge
    judge.targets.update({0: 1, 1: 0, 2: 1, 3: 0})
    data = tmp_path / "data"
    write_data(data, val_copy=False)
    run = launch(tmp_path, base_env(tmp_path, data, "e2e_ppo", srv.base_url, ALGO="ppo",
                                    TOTAL_TRAINING_STEPS=2, SAVE_FREQ=-1), [])
    assert run.returncode == 0, run.log[-3000:]
    assert "[writing_rl] verl sync path: replay buffer ReplayBuffer, gen_batch_size 4" in run.log
    metrics = run.metrics()
    for step in (1, 2):
        assert metrics[step]["actor/grad_norm"] > 0, metrics[step]
        assert metrics[step]["critic/vf_loss"] != 0, metrics[step]
        assert metrics[step]["writing_rl/judgments"] == 4
    assert_win_rate(metrics[1], 0.5)


def _fails(run: Run, *needles: str) -> None:
    assert run.returncode not in (0, None), run.log[-3000:]
    tail = run.log[-6000:]
    for needle in needles:
        assert needle in tail, f"{needle!r} not in the end of the log:\n{tail}"
    assert not run.metrics(), "a step was logged: the run trained on a partial batch"


def _two_step_grpo(tmp_path: Path, srv: FakeJudgeServer, experiment: str) -> Run:
    """A 2-step GRPO launch, saving every step, against the scripted judge (whose faults the test has set)."""
    data = tmp_path / "data"
    write_data(data, val_copy=False)
    return launch(tmp_path, base_env(tmp_path, data, experiment, srv.base_url, ALGO="grpo", ROLLOUT_N=2,
                                     TOTAL_TRAINING_STEPS=2, SAVE_FREQ=1), ["--skip-preflight"], timeout_s=600)


def test_rejected_key_stops_within_the_first_step(tmp_path: Path,
                                                  ladder_judge: tuple[LadderJudge, FakeJudgeServer]) -> None:
    judge, srv = ladder_judge
    judge.status = 401
    run = _two_step_grpo(tmp_path, srv, "e2e_401")
    _fails(run, "training stopped:", "OPENAI_API_KEY")
    assert not (tmp_path / "checkpoints" / "e2e_401" / "global_step_1").exists()


def test_failure_storm_stops_with_the_most_common_reason(tmp_path: Path,
                                                         ladder_judge: tuple[LadderJudge, FakeJudgeServer]) -> None:
    judge, srv = ladder_judge
    judge.fail_every = 2
    run = _two_step_grpo(tmp_path, srv, "e2e_storm")
    _fails(run, "training stopped:", "judgments failed in step 1 (limit 20%); most common reason:")


def test_foreign_index_file_is_refused_before_training(tmp_path: Path,
                                                        ladder_judge: tuple[LadderJudge, FakeJudgeServer]) -> None:
    _, srv = ladder_judge
    data = tmp_path / "data"
    write_data(data, val_copy=False)
    (tmp_path / "running_file").mkdir()
    foreign = {str(i): 0 for i in range(100, 104)}
    (tmp_path / "running_file" / "index_e2e_foreign.json").write_text(json.dumps(foreign))
    run = launch(tmp_path, base_env(tmp_path, data, "e2e_foreign", srv.base_url, ALGO="grpo", ROLLOUT_N=2),
                 ["--skip-preflight"], timeout_s=400)
    _fails(run, "training stopped: the curriculum could not start", "create_index_file.py")
    assert "vLLMHttpServer" not in run.log, "the error came after rollout servers started, not before training"


def test_missing_index_file_is_refused_before_training(tmp_path: Path,
                                                       ladder_judge: tuple[LadderJudge, FakeJudgeServer]) -> None:
    _, srv = ladder_judge
    data = tmp_path / "data"
    write_data(data, val_copy=False)
    missing = tmp_path / "elsewhere" / "index_gone.json"
    run = launch(tmp_path, base_env(tmp_path, data, "e2e_missing", srv.base_url, ALGO="grpo", ROLLOUT_N=2),
                 ["--skip-preflight", f"reward.reward_kwargs.index_file={missing}"], timeout_s=400)
    _fails(run, "training stopped: the curriculum could not start", str(missing), "does not exist")
