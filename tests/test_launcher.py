"""The launcher: its own overrides compose against verl 0.9.1's config; dry run; no-GPU path; no secrets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from writing_rl.testing.fake_judge import Reply

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_writing_rl.sh"
FAKE_KEYS = {
    "OPENAI_API_KEY": "sk-FAKE-openai-not-a-key-0123456789",
    "DASHSCOPE_API_KEY": "sk-FAKE-dashscope-not-a-key-012345",
    "WANDB_API_KEY": "fakewandb0123456789abcdef0123456789abcdef",
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    from writing_rl.testing.tiny_tokenizer import build_tiny_model_dir

    return build_tiny_model_dir(str(tmp_path_factory.mktemp("tiny_model")))


def launcher_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUDGE_", "REWARD_", "WANDB", "OPENAI", "DASH"))}
    bindir = Path(sys.executable).parent
    env.update({"PYTHON": sys.executable, "PATH": f"{bindir}:{env.get('PATH', '')}", "HOME": str(tmp_path),
                "HF_HUB_OFFLINE": "1"})
    env.update(extra)
    return env


def run_script(tmp_path: Path, *args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=timeout)


def overrides_from_script(tmp_path: Path, env: dict[str, str], *extra: str) -> list[str]:
    out = run_script(tmp_path, "--print-overrides", *extra, env=env)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line]


@pytest.mark.parametrize("algo_env", [
    {"ALGO": "ppo"},
    {"ALGO": "grpo", "ROLLOUT_N": "4"},
    {"PRESET": "longwriter-zero"},
    {"NNODES": "2", "N_GPUS_PER_NODE": "8", "PPO_MINI_BATCH_SIZE": "16",
     "JUDGE_BASE_URL": "http://h1:8000/v1#32,http://h2:8000/v1#16"},
], ids=["ppo", "grpo", "longwriter-zero", "multi-node-pool"])
def test_script_overrides_compose_validate_and_resolve_our_manager(tmp_path, tiny_model, algo_env):
    from verl.trainer.ppo.utils import need_critic

    from writing_rl.reward_manager import options_from_config
    from writing_rl.verl_config import check

    env = launcher_env(tmp_path, BASE_MODEL=tiny_model, **algo_env)
    overrides = overrides_from_script(tmp_path, env, "trainer.total_training_steps=5")
    cfg, warnings = check(overrides)
    assert warnings == []
    assert cfg.reward.reward_manager.name == "parallel" and cfg.trainer.v1.trainer_mode == "writing_rl"
    assert not cfg.trainer.checkpoint_callback_class  # the writing_rl trainer snapshots before verl checkpoints
    assert cfg.trainer.total_training_steps == 5  # pass-through overrides reach verl
    opts, settings, rcfg = options_from_config(cfg)  # every reward_kwargs key is one the manager knows
    assert opts.index_file == str(tmp_path / "running_file" / "index_writing_rl_demo.json")
    if algo_env.get("ALGO") == "ppo":
        assert need_critic(cfg) and cfg.algorithm.adv_estimator == "gae"
    elif "PRESET" in algo_env:
        assert cfg.algorithm.adv_estimator == "grpo" and cfg.actor_rollout_ref.rollout.n == 8
        assert rcfg.mode == "group-normalized" and rcfg.layout == "think-answer"
        assert set(rcfg.components) == {"pairwise", "length", "format", "repetition"}
    elif "NNODES" in algo_env:
        assert cfg.trainer.nnodes == 2 and cfg.trainer.n_gpus_per_node == 8
        assert settings.base_url == "http://h1:8000/v1#32,http://h2:8000/v1#16"
    else:
        assert not need_critic(cfg) and cfg.actor_rollout_ref.actor.use_kl_loss


def test_every_script_override_is_a_key_verl_reads(tmp_path, tiny_model):
    """Keys verl ignores (the legacy reward_model.* ones) would compose silently; forbid them."""
    overrides = overrides_from_script(tmp_path, launcher_env(tmp_path, BASE_MODEL=tiny_model))
    keys = [o.split("=", 1)[0].lstrip("+") for o in overrides]
    assert not [k for k in keys if k.startswith(("reward_model.", "custom_reward_function."))]
    sections = {"data", "actor_rollout_ref", "algorithm", "critic", "reward", "trainer"}
    assert all(k.split(".")[0] in sections for k in keys)


@pytest.fixture
def judge_for_launcher(judge_server):
    judge_server.script = lambda req: Reply(text="Both are fine; B is richer.\nVERDICT: B")
    return judge_server


def test_dry_run_prints_command_config_and_passing_preflight(tmp_path, tiny_model, judge_for_launcher):
    env = launcher_env(tmp_path, BASE_MODEL=tiny_model, JUDGE_BASE_URL=judge_for_launcher.base_url,
                       JUDGE_MODEL="fake-judge", **FAKE_KEYS)
    out = run_script(tmp_path, "--dry-run", env=env)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "python" in text and "-m verl.trainer.main_ppo" in text and "reward.reward_manager.name=parallel" in text
    assert "verl config: composed and validated" in text
    assert "judge call    ok" in text and "preflight: passed" in text
    assert "judge audit   warn" in text  # always B: every pair flips, the verdict blocks, the preflight only warns
    assert (tmp_path / "running_file" / "index_writing_rl_demo.json").is_file()
    assert judge_for_launcher.count == 1 + 2 * 8  # the probe, then PREFLIGHT_AUDIT_PAIRS=8 pairs in both orders
    for secret in FAKE_KEYS.values():
        assert secret not in text
    assert "Traceback" not in text


def test_dry_run_never_overwrites_a_running_index(tmp_path, tiny_model, judge_for_launcher):
    idx = tmp_path / "running_file" / "index_writing_rl_demo.json"
    idx.parent.mkdir(parents=True)
    idx.write_text('{"0": 1' + "".join(f', "{i}": 0' for i in range(1, 22)) + "}")
    env = launcher_env(tmp_path, BASE_MODEL=tiny_model, JUDGE_BASE_URL=judge_for_launcher.base_url,
                       JUDGE_MODEL="fake-judge", OPENAI_API_KEY="sk-x")
    out = run_script(tmp_path, "--dry-run", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert idx.read_text().startswith('{"0": 1') and "1 above level 0" in out.stdout


def test_no_gpu_runs_preflight_then_stops_clearly(tmp_path, tiny_model, judge_for_launcher):
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi: the no-GPU path cannot be exercised here")
    env = launcher_env(tmp_path, BASE_MODEL=tiny_model, JUDGE_BASE_URL=judge_for_launcher.base_url,
                       JUDGE_MODEL="fake-judge", **FAKE_KEYS)
    out = run_script(tmp_path, env=env)
    text = out.stdout + out.stderr
    assert out.returncode == 3
    assert "no NVIDIA GPU found" in text and "--dry-run" in text and "preflight" in text
    assert "Traceback" not in text
    for secret in FAKE_KEYS.values():
        assert secret not in text


def test_without_judge_or_key_the_local_judge_is_planned(tmp_path, tiny_model):
    env = launcher_env(tmp_path, BASE_MODEL=tiny_model)
    out = run_script(tmp_path, "--dry-run", env=env)
    text = out.stdout + out.stderr
    assert "would serve Qwen/Qwen2.5-7B-Instruct with vLLM" in text
    assert "+reward.reward_kwargs.judge.base_url=" in text and "http://127.0.0.1:8917/v1" in text
    assert out.returncode == 0, text[-2000:]


@pytest.mark.parametrize("env_extra,message", [
    ({"ALGO": "dpo"}, "ALGO=dpo must be ppo or grpo"),
    ({"ALGO": "grpo", "ROLLOUT_N": "1"}, "needs ROLLOUT_N > 1"),
    ({"REWARD_STRATEGY": "coin-flip"}, "REWARD_STRATEGY=coin-flip must be"),
    ({"DATA_DIR": "/nonexistent"}, "has no train.parquet"),
    ({"JUDGE_TEMPLATE": "/nonexistent.txt"}, "judge template /nonexistent.txt does not exist"),
    ({"PRESET": "magic"}, "PRESET=magic is not known"),
])
def test_bad_settings_are_named(tmp_path, env_extra, message):
    out = run_script(tmp_path, "--print-overrides", env=launcher_env(tmp_path, **env_extra))
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_critic_gets_the_same_token_limit_as_the_actor(tmp_path, tiny_model):
    """The v1 trainer sizes both critic passes from critic.ppo_infer_max_token_len_per_gpu (absent from verl's yaml)."""
    from verl.utils.config import omega_conf_to_dataclass

    from writing_rl.verl_config import check

    env = launcher_env(tmp_path, BASE_MODEL=tiny_model, PPO_MAX_TOKEN_LEN_PER_GPU="20000", **FAKE_KEYS)
    cfg, _ = check(overrides_from_script(tmp_path, env))
    critic = omega_conf_to_dataclass(cfg.critic)
    # verl/trainer/ppo/v1/trainer_base.py:267-268, run on the same dataclass the trainer builds
    critic.engine.infer_max_token_len_per_gpu = critic.ppo_infer_max_token_len_per_gpu
    critic.engine.max_token_len_per_gpu = critic.ppo_infer_max_token_len_per_gpu
    assert critic.engine.max_token_len_per_gpu == critic.engine.infer_max_token_len_per_gpu == 20000
    assert cfg.actor_rollout_ref.actor.ppo_max_token_len_per_gpu == 20000


def test_long_responses_get_a_token_budget_verl_accepts(tmp_path, tiny_model):
    """MAX_RESPONSE_LENGTH=16384: the default budget covers prompt + response; a budget below it is refused."""
    import json

    import torch
    from tensordict import TensorDict
    from verl.utils import tensordict_utils as tu
    from verl.workers.engine.utils import prepare_micro_batches

    model = tmp_path / "model_32k"
    shutil.copytree(tiny_model, model)
    conf = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**conf, "max_position_embeddings": 32768}))
    env = launcher_env(tmp_path, BASE_MODEL=str(model), MAX_RESPONSE_LENGTH="16384", **FAKE_KEYS)
    budgets = {o.split("=")[0]: int(o.split("=")[1]) for o in overrides_from_script(tmp_path, env)
               if "max_token_len_per_gpu=" in o}
    assert len(budgets) == 5 and set(budgets.values()) == {1024 + 16384}  # actor, log-prob, ref, critic (both keys)
    low = run_script(tmp_path, "--print-overrides", env={**env, "PPO_MAX_TOKEN_LEN_PER_GPU": "16384"})
    assert low.returncode == 2 and "PPO_MAX_TOKEN_LEN_PER_GPU>=17408" in low.stderr
    # verl's own micro-batching agrees on both sides of the line (utils/seqlen_balancing.py:384)
    for budget, fits in ((17408, True), (16384, False)):
        ids = torch.nested.as_nested_tensor([torch.ones(17408, dtype=torch.long)], layout=torch.jagged)
        batch = TensorDict({"input_ids": ids}, batch_size=[1])
        tu.assign_non_tensor(batch, use_dynamic_bsz=True, max_token_len_per_gpu=budget, sp_size=1)
        if fits:
            prepare_micro_batches(batch)
        else:
            with pytest.raises(AssertionError, match="max_token_len must be greater"):
                prepare_micro_batches(batch)
