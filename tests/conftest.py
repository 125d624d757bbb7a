"""Shared fixtures: a loopback judge server, judge settings pointed at it, a local tokenizer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from writing_rl.judge import JudgeSettings
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def judge_server() -> Iterator[FakeJudgeServer]:
    """A loopback judge answering 'VERDICT: B' unless a test sets ``server.script``."""
    with FakeJudgeServer(lambda req: Reply(text="B is better.\nVERDICT: B")) as srv:
        yield srv


@pytest.fixture
def fast_settings(judge_server: FakeJudgeServer, monkeypatch: pytest.MonkeyPatch) -> JudgeSettings:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
    return JudgeSettings(
        model="fake-judge", backend="openai", base_url=judge_server.base_url,
        backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=2.0, max_retries=3,
    )


@pytest.fixture
def judge_env(monkeypatch: pytest.MonkeyPatch, judge_server: FakeJudgeServer) -> FakeJudgeServer:
    """The loopback judge configured through the JUDGE_* variables, as a user would (no retries)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("JUDGE_BASE_URL", judge_server.base_url)
    monkeypatch.setenv("JUDGE_MODEL", "fake-judge")
    monkeypatch.setenv("JUDGE_MAX_RETRIES", "0")
    return judge_server


@pytest.fixture
def reward_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A judge key in the environment and no curriculum owner left over from another test."""
    from writing_rl.curriculum.owner import reset_local_owners

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000000000000000000000")
    reset_local_owners()
    yield
    reset_local_owners()


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small byte-level BPE tokenizer with a chat template, trained locally (no download)."""
    from writing_rl.testing.tiny_tokenizer import build_tiny_tokenizer

    return build_tiny_tokenizer(str(tmp_path_factory.mktemp("tok")))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"expected the shared benchmark files at {SHARED_DATA} (CI has them beside the repo)")
    return SHARED_DATA


os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
