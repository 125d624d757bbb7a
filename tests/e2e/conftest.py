"""End-to-end fixtures: the CPU training environment and a scripted loopback judge."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from writing_rl.testing.fake_judge import FakeJudgeServer

from .harness import LadderJudge, cpu_python


@pytest.fixture(scope="session", autouse=True)
def cpu_env() -> str:
    """scripts/cpu_env.sh: built once (5-6 minutes), reused while its pins are unchanged."""
    return cpu_python()


@pytest.fixture
def ladder_judge() -> Iterator[tuple[LadderJudge, FakeJudgeServer]]:
    judge = LadderJudge(targets={})
    with FakeJudgeServer(judge) as srv:
        yield judge, srv
