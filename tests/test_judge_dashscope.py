"""The DashScope backend through the real dashscope SDK, pointed at the loopback server."""

from __future__ import annotations

import asyncio

import pytest

from writing_rl.judge import JudgeConfigError, JudgeSettings, PairwiseJudge
from writing_rl.judge.backends import DashScopeBackend
from writing_rl.judge.client import make_backend
from writing_rl.testing.fake_judge import Reply


@pytest.fixture
def ds_settings(judge_server, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-dashscope-test-0000000000000000")
    return JudgeSettings(
        model="qwen-plus", backend="dashscope", base_url=judge_server.dashscope_url,
        backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=3, max_retries=2,
    )


def test_request_and_response_mapping(judge_server, ds_settings):
    judge_server.script = lambda req: Reply(text="ok\nVERDICT: B", prompt_tokens=40, completion_tokens=9)
    assert isinstance(make_backend(ds_settings), DashScopeBackend)
    j = asyncio.run(PairwiseJudge(ds_settings).compare("q", "ref", "resp"))
    assert j.outcome == "win" and (j.prompt_tokens, j.completion_tokens) == (40, 9)
    rec = judge_server.records[0]
    assert rec.path.endswith("/services/aigc/text-generation/generation") and rec.model == "qwen-plus"


def test_sends_messages_and_key_in_dashscope_format(judge_server, ds_settings):
    seen = {}

    def script(req):
        seen.update(body=req.body, auth=req.headers.get("Authorization"))
        return Reply(text="VERDICT: A")

    judge_server.script = script
    asyncio.run(PairwiseJudge(ds_settings).compare("q", "ref", "resp"))
    assert seen["body"]["input"]["messages"][0]["role"] == "user"
    assert seen["body"]["parameters"]["result_format"] == "message"
    assert seen["auth"] == "Bearer sk-dashscope-test-0000000000000000"


def test_429_then_success_is_retried(judge_server, ds_settings):
    judge_server.script = lambda req: Reply(status=429) if req.index == 0 else Reply(text="VERDICT: TIE")
    j = asyncio.run(PairwiseJudge(ds_settings).compare("q", "ref", "resp"))
    assert j.outcome == "tie" and j.attempts == 2


def test_401_names_dashscope_key(judge_server, ds_settings):
    judge_server.script = lambda req: Reply(status=401)
    with pytest.raises(JudgeConfigError, match="DASHSCOPE_API_KEY"):
        asyncio.run(PairwiseJudge(ds_settings).compare("q", "ref", "resp"))
    assert judge_server.count == 1
