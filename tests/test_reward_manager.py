"""The ``parallel`` reward manager through verl's own loading path (Hydra config -> RewardLoopWorker)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import pytest
from transformers import AutoTokenizer

from writing_rl.curriculum.index_file import create_index
from writing_rl.curriculum.state import CurriculumError
from writing_rl.judge import JudgeConfigError
from writing_rl.reward_monitor import JudgeFailureRateError
from writing_rl.testing.fake_judge import Reply, answer_block

from .verl_helpers import compose_reward_config, gt, make_batch

pytestmark = pytest.mark.usefixtures("reward_env")


@pytest.fixture
def tok(tiny_tokenizer_dir):
    return AutoTokenizer.from_pretrained(tiny_tokenizer_dir)


def good_wins(req):
    """The judge prefers a response containing 'good' over any reference."""
    return Reply(text="VERDICT: B" if "good" in answer_block(req.prompt, "B") else "VERDICT: A")


class Rig:
    """A RewardLoopWorker built from verl's composed config, plus the index file and server."""

    def __init__(self, tmp_path, tiny_tokenizer_dir, server, n_samples=4, **kw):
        from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

        self.index = tmp_path / "running_file" / "index_test.json"
        if n_samples:
            create_index(self.index, range(n_samples))
        self.server = server
        self.config = compose_reward_config(tiny_tokenizer_dir, str(self.index), server.base_url, **kw)
        self.worker = RewardLoopWorker(self.config)
        self.step = 0  # the training step being scored

    def score(self, tok, items):
        """Score ``items``; a later training step first closes the one before, as the writing_rl trainer does."""
        from .verl_helpers import close_step

        step = max((it.get("step", 1) for it in items if it.get("split", "train") == "train"), default=0)
        if self.step and step > self.step:
            close_step(self.config, self.step)
        self.step = max(self.step, step)
        return asyncio.run(self.worker.compute_score_batch(make_batch(tok, items)))

    def levels(self):
        return json.loads(self.index.read_text())

    def judged_levels(self):
        """Reference level of each judged request, read from the prompt the judge saw."""
        out = []
        for r in self.server.records:
            m = re.search(r"REF(\d+)-L(\d+)", r.prompt)
            out.append((int(m.group(1)), int(m.group(2))))
        return out


def test_import_verl_loads_the_plugin_in_a_fresh_process():
    code = (
        "import sys, verl\n"
        "from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls\n"
        "from verl.trainer.ppo.v1 import get_trainer_cls\n"
        "from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync\n"
        "assert 'writing_rl.plugin' in sys.modules\n"
        "cls = get_reward_manager_cls('parallel')\n"
        "assert cls.__name__ == 'PairwiseJudgeRewardManager'\n"
        "assert issubclass(get_trainer_cls('writing_rl'), PPOTrainerSync)\n"
        "print('ok', cls.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ok writing_rl.reward_manager" in out.stdout


@pytest.mark.parametrize("first", ["writing_rl.curriculum.owner", "writing_rl.reward_manager", "writing_rl.trainer",
                                   "writing_rl.cli.main"])
def test_plugin_registers_everything_whatever_is_imported_first(first):
    code = (
        f"import {first}\n"
        "from verl.trainer.ppo.v1 import get_trainer_cls\n"
        "from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls\n"
        "get_trainer_cls('writing_rl'); get_reward_manager_cls('parallel'); print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_config_keys_reach_the_manager(tmp_path, tiny_tokenizer_dir, judge_server):
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server, strategy="both-orders", advance_rule="majority")
    mgr = rig.worker.reward_manager
    assert type(mgr).__name__ == "PairwiseJudgeRewardManager"
    assert mgr.opts.strategy == "both-orders" and mgr.opts.advance_rule == "majority"
    assert mgr.settings.base_url == judge_server.base_url and mgr.settings.model == "fake-judge"
    assert mgr.opts.index_file == str(rig.index)


def test_legacy_top_level_key_is_ignored_by_verl(tiny_tokenizer_dir):
    """Why the launcher uses reward.*: the old key composes but does not choose the manager."""
    from verl.trainer.ppo.reward import resolve_reward_manager_cls

    from writing_rl.verl_config import compose

    cfg = compose([f"actor_rollout_ref.model.path={tiny_tokenizer_dir}", "reward_model.reward_manager=parallel"])
    assert resolve_reward_manager_cls(cfg).__name__ == "NaiveRewardManager"


def test_unknown_reward_kwarg_is_a_clear_error(tmp_path, tiny_tokenizer_dir, judge_server):
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['advance_rul'\] under reward.reward_kwargs"):
        Rig(tmp_path, tiny_tokenizer_dir, judge_server, advance_rul="all")


def test_rewards_and_levels_across_steps_n1(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    judge_server.script = good_wins
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server)
    out = rig.score(tok, [{"response": "good" if i % 2 == 0 else "meh", "gt": gt(i), "step": 1} for i in range(4)])
    assert [o["reward_score"] for o in out] == [1.0, 0.0, 1.0, 0.0]
    assert [o["reward_extra_info"]["reference_level"] for o in out] == [0, 0, 0, 0]
    assert rig.levels() == {"0": 0, "1": 0, "2": 0, "3": 0}  # not before the step ends
    rig.score(tok, [{"response": "meh", "gt": gt(i), "step": 2} for i in range(4)])
    assert rig.levels() == {"0": 1, "1": 0, "2": 1, "3": 0}


def test_all_rollouts_of_a_step_use_the_same_level_n8(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    judge_server.script = good_wins
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server, n=8)
    items = [{"response": "good" if k == 0 else "meh", "gt": gt(0), "step": 1, "uid": "g"} for k in range(8)]
    rig.score(tok, items[:4])
    rig.score(tok, items[4:])  # same step, after a win: still level 0
    assert {lvl for _, lvl in rig.judged_levels()} == {0}
    rig.score(tok, [dict(it, step=2) for it in items])
    assert [lvl for _, lvl in rig.judged_levels()[8:]] == [1] * 8
    rig.score(tok, [dict(it, step=3, response="good") for it in items])
    rig.score(tok, [dict(it, step=4) for it in items])
    assert rig.levels()["0"] == 2  # one level per step, never past the last reference (2)
    rig.score(tok, [dict(it, step=5, response="good") for it in items])
    rig.score(tok, [dict(it, step=6) for it in items])
    assert rig.levels()["0"] == 2


@pytest.mark.parametrize("rule,wins,advances", [
    ("any", 1, True), ("any", 0, False), ("majority", 2, False), ("majority", 3, True),
    ("all", 3, False), ("all", 4, True),
])
def test_advance_rules(tmp_path, tiny_tokenizer_dir, judge_server, tok, rule, wins, advances):
    judge_server.script = good_wins
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server, n=4, advance_rule=rule)
    rig.score(tok, [{"response": "good" if k < wins else "meh", "gt": gt(1), "step": 1} for k in range(4)])
    rig.score(tok, [{"response": "meh", "gt": gt(3), "step": 2}])
    assert rig.levels()["1"] == (1 if advances else 0)


def test_validation_never_moves_the_curriculum(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    judge_server.script = good_wins
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server)
    out = rig.score(tok, [{"response": "good", "gt": gt(i), "step": 1, "split": "test"} for i in range(4)])
    assert all(o["reward_score"] == 1.0 for o in out)
    assert {lvl for _, lvl in rig.judged_levels()} == {2}  # validation uses the strongest reference
    rig.score(tok, [{"response": "meh", "gt": gt(0), "step": 2}])
    assert rig.levels() == {"0": 0, "1": 0, "2": 0, "3": 0}


@pytest.mark.parametrize("mode,level", [("best", 2), ("self", 0), ("fixed:1", 1), ("fixed:9", 2)])
def test_reference_modes(tmp_path, tiny_tokenizer_dir, judge_server, tok, mode, level):
    judge_server.script = good_wins
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server, reference_mode=mode)
    rig.score(tok, [{"response": "good", "gt": gt(0), "step": 1}])
    rig.score(tok, [{"response": "good", "gt": gt(0), "step": 2}])
    assert [lvl for _, lvl in rig.judged_levels()] == [level, level]
    assert rig.levels()["0"] == 0  # only dynamic mode advances


def test_failed_judgment_is_neutral_and_never_advances(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    judge_server.script = lambda req: Reply(text="no verdict here")
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server, failure_check_min=100)
    out = rig.score(tok, [{"response": "good", "gt": gt(0), "step": 1}])
    assert out[0]["reward_score"] == 0.5 and out[0]["reward_extra_info"]["outcome"] == "failed"
    assert out[0]["reward_extra_info"]["judge_failed"] == 1
    rig.score(tok, [{"response": "good", "gt": gt(1), "step": 2}])
    assert rig.levels()["0"] == 0


def test_failed_value_and_format_bonus_options(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    judge_server.script = lambda req: Reply(text="VERDICT: B" if req.index == 0 else "???")
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server, format_bonus=0.1, failed_value=0.0, failure_check_min=99)
    out = rig.score(tok, [{"response": "good", "gt": gt(0), "step": 1}])
    assert out[0]["reward_score"] == pytest.approx(1.1)
    out = rig.score(tok, [{"response": "good", "gt": gt(1), "step": 1}])
    assert out[0]["reward_score"] == 0.0 and out[0]["reward_extra_info"]["outcome"] == "failed"


def test_too_many_failures_stop_training_with_the_reason(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    judge_server.script = lambda req: Reply(status=503)
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server, failure_check_min=4)
    with pytest.raises(JudgeFailureRateError, match=r"judgments failed in step 1.*HTTP 503"):
        rig.score(tok, [{"response": "x", "gt": gt(i % 4), "step": 1} for i in range(6)])


def test_rejected_key_stops_at_once(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    judge_server.script = lambda req: Reply(status=401)
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server)
    with pytest.raises(JudgeConfigError, match="OPENAI_API_KEY"):
        rig.score(tok, [{"response": "x", "gt": gt(0), "step": 1}])


def test_integer_and_string_ids(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    judge_server.script = good_wins
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server)
    g1, g2 = gt(1), gt(2)
    g2["id"] = "2"
    rig.score(tok, [{"response": "good", "gt": g1, "step": 1}, {"response": "good", "gt": g2, "step": 1}])
    rig.score(tok, [{"response": "meh", "gt": gt(0), "step": 2}])
    assert rig.levels() == {"0": 0, "1": 1, "2": 1, "3": 0}


def test_empty_reference_list_names_the_sample(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server)
    bad = gt(3)
    bad["target"] = []
    with pytest.raises(CurriculumError, match="sample 3: .*target is empty"):
        rig.score(tok, [{"response": "x", "gt": bad, "step": 1}])


def test_id_outside_the_index_names_the_sample_and_file(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server)
    with pytest.raises(CurriculumError, match=r"sample 57 is not in .*index_test.json \(4 samples, ids 0..3\)"):
        rig.score(tok, [{"response": "x", "gt": gt(57), "step": 1}])


def test_empty_response_is_a_loss_without_a_judge_call(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server)
    out = rig.score(tok, [{"response": "<think>still planning", "gt": gt(0), "step": 1}])
    assert out[0]["reward_score"] == 0.0 and out[0]["reward_extra_info"]["outcome"] == "empty"
    assert judge_server.count == 0


def test_step_metrics_via_the_trainer_hook(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    from .verl_helpers import close_step

    judge_server.script = good_wins
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server)
    assert close_step(rig.config, 1) == {}  # no owner yet: nothing to report
    rig.score(tok, [{"response": "good" if i < 3 else "meh", "gt": gt(i), "step": 1} for i in range(4)])
    m = close_step(rig.config, 1)
    assert m["writing_rl/win_rate"] == 0.75 and m["writing_rl/loss_rate"] == 0.25
    assert m["writing_rl/advanced"] == 3 and m["writing_rl/level_mean"] == 0.75
    assert m["writing_rl/judge_latency_p95"] > 0 and m["writing_rl/judge_prompt_tokens"] > 0
    assert rig.levels() == {"0": 1, "1": 1, "2": 1, "3": 0}
    assert close_step(rig.config, 1) == m  # idempotent


def test_writing_rl_trainer_adds_step_metrics_to_what_verl_logs(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    """verl's fit() merges _consume_sync_metrics() into the step's logged metrics after on_step_end."""
    from verl.trainer.ppo.v1 import get_trainer_cls

    from writing_rl.trainer import CurriculumDriver

    judge_server.script = good_wins
    rig = Rig(tmp_path, tiny_tokenizer_dir, judge_server)
    rig.score(tok, [{"response": "good" if i < 2 else "meh", "gt": gt(i), "step": 1} for i in range(4)])
    trainer = get_trainer_cls("writing_rl").__new__(get_trainer_cls("writing_rl"))
    synced = []
    trainer.config, trainer.global_steps, trainer.timing_raw = rig.config, 1, {}
    trainer.curriculum = CurriculumDriver(rig.worker.reward_manager.opts, None)
    trainer.checkpoint_manager = type("CM", (), {"update_weights": lambda self, step: synced.append(step)})()
    trainer.on_step_end()
    metrics = trainer._consume_sync_metrics()
    assert synced == [1]  # verl's own weight sync still runs
    assert metrics["writing_rl/win_rate"] == 0.5 and metrics["writing_rl/advanced"] == 2
    assert rig.levels() == {"0": 1, "1": 1, "2": 0, "3": 0}


def test_judge_pool_metrics_reach_the_step_metrics(tmp_path, tiny_tokenizer_dir, judge_server, tok):
    from writing_rl.testing.fake_judge import FakeJudgeServer

    from .verl_helpers import close_step

    judge_server.script = good_wins
    with FakeJudgeServer(good_wins) as second:
        pool_url = f"'{judge_server.base_url}#2,{second.base_url}#2'"
        from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

        from .verl_helpers import compose_reward_config

        idx = tmp_path / "index_pool.json"
        create_index(idx, range(4))
        cfg = compose_reward_config(tiny_tokenizer_dir, str(idx), pool_url, experiment="pool")
        worker = RewardLoopWorker(cfg)
        asyncio.run(worker.compute_score_batch(make_batch(tok, [
            {"response": "good", "gt": gt(i), "step": 1} for i in range(4)])))
        m = close_step(cfg, 1)
    names = [k for k in m if k.startswith("judge_pool/") and k.endswith("/requests")]
    assert len(names) == 2 and sum(m[k] for k in names) >= 1
    assert m["judge_pool/healthy_endpoints"] == 2.0


def test_reward_kwargs_are_parsed_by_their_dataclass(tmp_path):
    from omegaconf import OmegaConf

    from writing_rl.run_config import options_from_config

    def cfg(**kw):
        return OmegaConf.create({"reward": {"reward_kwargs": kw, "num_workers": 1},
                                 "trainer": {"experiment_name": "x"}})

    opts, _, reward_cfg = options_from_config(cfg(win_value="2", combine="group-normalized", failed_value=0.0))
    assert opts.win_value == 2.0 and opts.failed_value == 0.0 and opts.neutral == 0.0 and opts.experiment == "x"
    assert opts.index_file.endswith("running_file/index_x.json") and reward_cfg.mode == "group-normalized"
    with pytest.raises(ValueError, match=r"reward.reward_kwargs.win_value: .*'lots'"):
        options_from_config(cfg(win_value="lots"))
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['judge_model'\] under reward.reward_kwargs"):
        options_from_config(cfg(judge_model="m"))
