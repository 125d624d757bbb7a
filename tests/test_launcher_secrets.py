"""The launcher prints no URL password or key: --print-overrides, the --dry-run command, config and preflight."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from writing_rl.testing.fake_judge import Reply

from .test_launcher import FAKE_KEYS, launcher_env, run_script, tiny_model  # noqa: F401 - tiny_model is a fixture

PASSWORD = "pw-LAUNCH16-5e1f0c"


def test_print_overrides_shows_the_judge_url_without_its_password(tmp_path: Path) -> None:
    env = launcher_env(tmp_path, JUDGE_BASE_URL=f"http://judge:{PASSWORD}@h1:8000/v1#8,http://h2:8000/v1",
                       **FAKE_KEYS)
    out = run_script(tmp_path, "--print-overrides", env=env)
    assert out.returncode == 0, out.stderr
    assert "+reward.reward_kwargs.judge.base_url='http://h1:8000/v1#8,http://h2:8000/v1'" in out.stdout
    assert PASSWORD not in out.stdout + out.stderr and "judge:" not in out.stdout
    for key in FAKE_KEYS.values():
        assert key not in out.stdout + out.stderr


def test_dry_run_command_config_and_preflight_hold_no_password(tmp_path: Path, tiny_model: str,  # noqa: F811
                                                               judge_server) -> None:
    judge_server.script = lambda req: Reply(text="B is richer.\nVERDICT: B")
    url = judge_server.base_url.replace("http://", f"http://judge:{PASSWORD}@")
    env = launcher_env(tmp_path, BASE_MODEL=tiny_model, JUDGE_BASE_URL=url, JUDGE_MODEL="fake-judge", **FAKE_KEYS)
    out = run_script(tmp_path, "--dry-run", env=env)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "verl config: composed and validated" in text and "preflight: passed" in text
    assert f"base_url: {judge_server.base_url}" in out.stdout  # the composed config, user info removed
    assert PASSWORD not in text and "Traceback" not in text
    for key in FAKE_KEYS.values():
        assert key not in text


def test_the_judge_overrides_carry_no_password_and_workers_add_it_back(monkeypatch) -> None:
    """What verl receives (and prints, and sends to wandb) has no password; a worker's settings do."""
    from writing_rl.judge import JudgeSettings
    from writing_rl.run_config import options_from_config

    full = f"http://judge:{PASSWORD}@h1:8000/v1#8,http://h2:8000/v1"
    settings = JudgeSettings.from_env({"JUDGE_BASE_URL": full, "JUDGE_MODEL": "m"})
    lines = settings.hydra_overrides()
    assert "+reward.reward_kwargs.judge.base_url='http://h1:8000/v1#8,http://h2:8000/v1'" in lines
    assert not any(PASSWORD in line for line in lines)

    monkeypatch.setenv("JUDGE_BASE_URL", full)  # the worker's environment
    config = OmegaConf.create({"trainer": {"experiment_name": "e"}, "reward": {"reward_kwargs": {
        "judge": {"base_url": "http://h1:8000/v1#8,http://h2:8000/v1", "model": "m"}}}})
    _, judge, _ = options_from_config(config)
    assert judge.base_url == full
