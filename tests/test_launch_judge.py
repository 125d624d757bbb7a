"""Judge settings travel in verl's config, not the environment; the local judge on one node and on several.

The launcher reads every ``JUDGE_*`` / ``API_PARALLEL`` / ``JUDGE_POOL_*`` variable once and passes it as a
``+reward.reward_kwargs.judge.*`` override. A reward worker on another node (simulated here by an environment
with none of those variables, or with different ones) builds exactly the same judge from the composed config;
only the key comes from its own environment.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from writing_rl.judge import JudgeConfigError, JudgeSettings

from .test_launcher import FAKE_KEYS, SCRIPT, launcher_env, overrides_from_script, run_script

USER_SETTINGS = {
    "JUDGE_MODEL": "my-judge", "JUDGE_BASE_URL": "http://10.0.0.7:8000/v1#24,http://10.0.0.8:8000/v1#24",
    "API_PARALLEL": "48", "JUDGE_RPM": "600", "JUDGE_TPM": "900000", "JUDGE_TIMEOUT": "45", "JUDGE_MAX_RETRIES": "2",
    "JUDGE_MAX_TOKENS": "512", "JUDGE_TEMPERATURE": "0.3", "JUDGE_MAX_CHARS": "9000", "JUDGE_POOL_EJECT_AFTER": "5",
    "JUDGE_POOL_COOLDOWN": "7.5", "REWARD_WORKERS": "4",
}
WORKER_SETTINGS = {"model": "my-judge", "backend": "openai", "base_url": USER_SETTINGS["JUDGE_BASE_URL"],
                   "timeout_s": 45.0, "max_retries": 2, "max_tokens": 512, "temperature": 0.3,
                   "max_candidate_chars": 9000, "pool_eject_after": 5, "pool_cooldown_s": 7.5}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    from writing_rl.testing.tiny_tokenizer import build_tiny_model_dir

    return build_tiny_model_dir(str(tmp_path_factory.mktemp("tiny_model")))


def judge_in_worker(cfg, monkeypatch, worker_env: dict[str, str]):
    """What a reward worker builds from ``cfg`` with ``worker_env`` as its whole judge environment."""
    import os

    from writing_rl.judge.pool import PoolBackend
    from writing_rl.reward_manager import options_from_config

    for k in list(os.environ):
        if k.startswith(("JUDGE_", "API_PARALLEL", "OPENAI", "DASHSCOPE")):
            monkeypatch.delenv(k)
    for k, v in worker_env.items():
        monkeypatch.setenv(k, v)
    _, settings, _ = options_from_config(cfg)
    return settings, PoolBackend(settings) if "," in (settings.base_url or "") else None


@pytest.mark.parametrize("worker_env", [
    {"OPENAI_API_KEY": "sk-FAKE-worker-key-000000000000"},  # a node started with only the key exported
    {"OPENAI_API_KEY": "sk-FAKE-worker-key-000000000000", "JUDGE_RPM": "1", "JUDGE_TIMEOUT": "1", "API_PARALLEL": "1",
     "JUDGE_MODEL": "other", "JUDGE_BASE_URL": "http://elsewhere:1/v1", "JUDGE_POOL_COOLDOWN": "999"},  # stale ones
], ids=["clean-node", "node-with-other-settings"])
def test_every_judge_setting_reaches_every_worker_through_the_config(tmp_path, tiny_model, monkeypatch, worker_env):
    from writing_rl.verl_config import check

    env = launcher_env(tmp_path, BASE_MODEL=tiny_model, **USER_SETTINGS, **FAKE_KEYS)
    overrides = overrides_from_script(tmp_path, env)
    text = "\n".join(overrides)
    for secret in FAKE_KEYS.values():
        assert secret not in text
    cfg, _ = check(overrides)
    logged = dict(cfg.reward.reward_kwargs.judge)  # what verl prints and sends to wandb
    assert logged["rpm"] == 600 and logged["tpm"] == 900000 and logged["concurrency"] == 48
    assert {k: logged[k] for k in WORKER_SETTINGS} == WORKER_SETTINGS
    assert logged["requires_key"] is True and not any("KEY" in k.upper() and k != "requires_key" for k in logged)

    settings, pool = judge_in_worker(cfg, monkeypatch, worker_env)
    assert {k: getattr(settings, k) for k in WORKER_SETTINGS} == WORKER_SETTINGS
    # totals split over reward.num_workers=4, exactly as before
    assert (settings.rpm, settings.tpm, settings.concurrency) == (150, 225000, 12)
    assert (pool.eject_after, pool.cooldown_s) == (5, 7.5)
    assert settings.api_key() == worker_env["OPENAI_API_KEY"]  # the key, and only the key, from the worker


def test_a_bad_judge_variable_stops_the_launch_not_a_worker(tmp_path):
    for name, value, needle in (("JUDGE_RPM", "lots", "JUDGE_RPM='lots' is not a valid float"),
                                ("JUDGE_POOL_EJECT_AFTER", "0", "JUDGE_POOL_EJECT_AFTER must be at least 1"),
                                ("JUDGE_BACKEND", "pigeon", "JUDGE_BACKEND='pigeon' is not one of")):
        out = run_script(tmp_path, "--print-overrides", env=launcher_env(tmp_path, **{name: value}, **FAKE_KEYS))
        assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_the_backend_rule_lives_in_python_only(tmp_path):
    """`qwen*` means DashScope, decided by writing_rl.judge.settings.infer_backend; the launcher follows it."""
    assert "[Qq][Ww][Ee][Nn]" not in SCRIPT.read_text()
    dash = overrides_from_script(tmp_path, launcher_env(tmp_path, JUDGE_MODEL="qwen-plus",
                                                        DASHSCOPE_API_KEY="sk-FAKE-dash-0000000000"))
    assert "+reward.reward_kwargs.judge.backend='dashscope'" in dash
    assert "+reward.reward_kwargs.judge.model='qwen-plus'" in dash
    # an OpenAI key does not serve a qwen judge: no DashScope key means the launcher serves the local judge
    local = overrides_from_script(tmp_path, launcher_env(tmp_path, JUDGE_MODEL="qwen-plus",
                                                         OPENAI_API_KEY="sk-FAKE-open-0000000000"))
    assert "+reward.reward_kwargs.judge.base_url='http://127.0.0.1:8917/v1'" in local
    assert "+reward.reward_kwargs.judge.requires_key=false" in local


def test_multi_node_local_judge_is_served_on_the_head_address(tmp_path, tiny_model, monkeypatch):
    from writing_rl.verl_config import check

    env = launcher_env(tmp_path, BASE_MODEL=tiny_model, NNODES="2", N_GPUS_PER_NODE="8", PPO_MINI_BATCH_SIZE="16",
                       RAY_ADDRESS="10.1.2.3:6379")
    overrides = overrides_from_script(tmp_path, env)
    assert "+reward.reward_kwargs.judge.base_url='http://10.1.2.3:8917/v1'" in overrides
    out = run_script(tmp_path, "--dry-run", env=env)
    assert "would serve Qwen/Qwen2.5-7B-Instruct with vLLM on this node at http://10.1.2.3:8917/v1" in out.stderr
    # a worker on another node has no key at all, and needs none for the launcher's own judge
    cfg, _ = check(overrides)
    settings, _ = judge_in_worker(cfg, monkeypatch, {})
    assert settings.base_url == "http://10.1.2.3:8917/v1" and settings.api_key() == "EMPTY"
    with pytest.raises(JudgeConfigError, match="OPENAI_API_KEY"):  # before: a remote URL demanded a key
        settings.replace(requires_key=True).api_key()

    explicit = overrides_from_script(tmp_path, {**env, "LOCAL_JUDGE_HOST": "head.cluster.internal",
                                                "LOCAL_JUDGE_PORT": "9100"})
    assert "+reward.reward_kwargs.judge.base_url='http://head.cluster.internal:9100/v1'" in explicit


@pytest.mark.parametrize("extra", [{}, {"RAY_ADDRESS": "auto"}, {"LOCAL_JUDGE_HOST": "127.0.0.1"},
                                   {"RAY_ADDRESS": "localhost:6379"}], ids=["nothing", "auto", "loopback", "localhost"])
def test_multi_node_local_judge_without_a_reachable_address_is_refused(tmp_path, extra):
    env = launcher_env(tmp_path, NNODES="2", N_GPUS_PER_NODE="8", PPO_MINI_BATCH_SIZE="16", **extra)
    out = run_script(tmp_path, "--print-overrides", env=env)
    assert out.returncode == 2 and out.stdout == ""
    assert "NNODES=2 with no JUDGE_BASE_URL and no judge key" in out.stderr
    assert "LOCAL_JUDGE_HOST=" in out.stderr and "RAY_ADDRESS=" in out.stderr and "Traceback" not in out.stderr


def test_one_node_local_judge_stays_on_loopback_and_a_key_means_no_local_judge():
    from writing_rl.launch_plan import LaunchError, local_judge_host, plan_judge, ray_head_host

    plan = plan_judge({}, nnodes=1, local_model="judge-7b", local_port=8917)
    assert plan.local and plan.base_url == "http://127.0.0.1:8917/v1" and not plan.settings.requires_key
    remote = plan_judge({"OPENAI_API_KEY": "x"}, nnodes=4, local_model="judge-7b", local_port=8917)
    assert not remote.local and remote.settings.model == "gpt-4o-mini" and remote.settings.requires_key
    ipv6 = plan_judge({}, nnodes=2, local_model="j", local_port=8917, ray_address="[fd00::5]:6379")
    assert ipv6.base_url == "http://[fd00::5]:8917/v1"
    assert ray_head_host("ray://head-0:10001") == "head-0" and ray_head_host("10.0.0.1:6379") == "10.0.0.1"
    assert ray_head_host("auto") is None and ray_head_host("") is None
    with pytest.raises(LaunchError, match="not a host name"):
        local_judge_host(2, "head; rm -rf /", None)


def test_worker_settings_ignore_the_environment_except_keys(monkeypatch):
    monkeypatch.setenv("JUDGE_RPM", "5")
    monkeypatch.setenv("JUDGE_MODEL", "from-env")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-FAKE-0000000000000000")
    s = JudgeSettings.from_mapping({"model": "from-config"})
    assert s.model == "from-config" and s.rpm is None and s.api_key() == "sk-FAKE-0000000000000000"
    assert JudgeSettings.from_mapping(None) == JudgeSettings()
    # every field survives the round trip through Hydra overrides
    original = JudgeSettings.from_env({**{k: v for k, v in USER_SETTINGS.items() if k != "REWARD_WORKERS"},
                                       "JUDGE_TEMPLATE": "/tmp/it's a template.txt", "JUDGE_REQUIRES_KEY": "0"})
    from writing_rl.verl_config import compose

    cfg = compose([o for o in original.hydra_overrides()])
    from omegaconf import OmegaConf

    assert JudgeSettings.from_mapping(OmegaConf.to_container(cfg.reward.reward_kwargs.judge)) == original


def test_a_training_launch_serves_the_local_judge_where_planned_and_stops_it(tmp_path, tiny_model):
    """The whole local-judge path with a fake `nvidia-smi` and a fake `vllm` (a loopback judge): the launcher starts
    scripts/serve_judge.sh bound to the planned host and port, the preflight judges one comparison through it, verl
    is started (and stops at once on a deliberately unknown key), and the judge is stopped on exit."""
    import json
    import os
    import sys

    from .test_serve_judge import FAKE_VLLM, free_port_pair, port_open

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "vllm").write_text(FAKE_VLLM)
    (bindir / "nvidia-smi").write_text("#!/bin/sh\nif [ \"$1\" = -L ]; then echo 'GPU 0: Fake GPU (UUID: GPU-0)';"
                                       " else echo 0; fi\n")
    for f in ("vllm", "nvidia-smi"):
        (bindir / f).chmod(0o755)
    (tmp_path / "replicas").mkdir()
    port = free_port_pair()
    env = launcher_env(tmp_path, BASE_MODEL=tiny_model, LOCAL_JUDGE_PORT=str(port),
                       FAKE_VLLM_DIR=str(tmp_path / "replicas"))
    env["PATH"] = f"{bindir}:{Path(sys.executable).parent}:/usr/bin:/bin"
    env.pop("CUDA_VISIBLE_DEVICES", None)
    out = run_script(tmp_path, "trainer.no_such_key_for_this_test=1", env=env, timeout=600)
    text = out.stdout + out.stderr
    replica = json.loads((tmp_path / "replicas" / f"replica_{port}.json").read_text())
    assert replica["args"][:6] == ["serve", "Qwen/Qwen2.5-7B-Instruct", "--host", "127.0.0.1", "--port", str(port)]
    assert replica["args"][-2:] == ["--gpu-memory-utilization", "0.35"]
    assert f"judge: ready at http://127.0.0.1:{port}/v1" in text
    assert re.search(r"judge call +ok", text) and "preflight: passed" in text, text[-3000:]
    assert "no_such_key_for_this_test" in text and out.returncode not in (0, 3, 4)  # verl itself refused the key
    assert not port_open(port) and not os.path.exists(f"/proc/{replica['pid']}")  # the judge was stopped
