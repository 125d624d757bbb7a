"""The judge client against a real loopback HTTP server through the real openai SDK."""

from __future__ import annotations

import asyncio
import time

import pytest

from writing_rl.judge import JudgeClient, JudgeConfigError, JudgeSettings
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

MSG = [{"role": "user", "content": "hello"}]


def run(coro):
    return asyncio.run(coro)


def chat(settings: JudgeSettings):
    async def go():
        client = JudgeClient(settings)
        try:
            return await client.chat(MSG)
        finally:
            await client.close()

    return run(go())


def scripted(judge_server: FakeJudgeServer, replies: list[Reply]) -> None:
    judge_server.script = lambda req: replies[req.index] if req.index < len(replies) else Reply(text="VERDICT: A")


def test_success_reports_tokens_attempts_and_latency(judge_server, fast_settings):
    scripted(judge_server, [Reply(text="fine\nVERDICT: A", delay_s=0.05, prompt_tokens=11, completion_tokens=7)])
    res = chat(fast_settings)
    assert res.ok and res.text == "fine\nVERDICT: A"
    assert (res.attempts, res.prompt_tokens, res.completion_tokens) == (1, 11, 7)
    assert res.latency_s >= 0.05


@pytest.mark.parametrize(
    "fault",
    [Reply(status=500), Reply(status=503), Reply(drop=True), Reply(body="{not json"), Reply(body='{"choices": []}')],
    ids=["500", "503", "dropped", "malformed-json", "no-choices"],
)
def test_transient_fault_is_retried(judge_server, fast_settings, fault):
    scripted(judge_server, [fault, fault])
    res = chat(fast_settings)
    assert res.ok and res.attempts == 3 and len(res.errors) == 2
    assert judge_server.count == 3


def test_hang_past_timeout_is_retried(judge_server, fast_settings):
    scripted(judge_server, [Reply(delay_s=5.0)])
    t0 = time.monotonic()
    res = chat(fast_settings.replace(timeout_s=0.3))
    assert res.ok and res.attempts == 2
    assert "timeout" in res.errors[0]
    assert time.monotonic() - t0 < 3.0


def test_429_honors_retry_after(judge_server, fast_settings):
    scripted(judge_server, [Reply(status=429, headers={"Retry-After": "0.4"})])
    res = chat(fast_settings)
    assert res.ok and res.attempts == 2
    first, second = judge_server.records[0], judge_server.records[1]
    assert second.started - first.finished >= 0.35


def test_exhausted_retries_return_failed_result_not_text(judge_server, fast_settings):
    judge_server.script = lambda req: Reply(status=500)
    res = chat(fast_settings.replace(max_retries=2))
    assert not res.ok and res.text is None
    assert res.attempts == 3 and judge_server.count == 3
    assert "HTTP 500" in res.error


@pytest.mark.parametrize(
    "status,names",
    [(401, "OPENAI_API_KEY"), (403, "JUDGE_MODEL"), (404, "JUDGE_BASE_URL"), (400, "JUDGE_MAX_CHARS")],
)
def test_client_errors_raise_at_once_naming_the_setting(judge_server, fast_settings, status, names):
    judge_server.script = lambda req: Reply(status=status)
    with pytest.raises(JudgeConfigError) as e:
        chat(fast_settings)
    assert names in str(e.value)
    assert judge_server.count == 1


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(JudgeConfigError, match="OPENAI_API_KEY is not set"):
        JudgeClient(JudgeSettings(base_url="https://judge.example.invalid/v1"))


def test_local_judge_needs_no_key(monkeypatch, judge_server):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    res = chat(JudgeSettings(base_url=judge_server.base_url, timeout_s=2))
    assert res.ok


def test_concurrency_cap_is_never_exceeded(judge_server, fast_settings):
    judge_server.script = lambda req: Reply(text="VERDICT: A", delay_s=0.05)

    async def go():
        client = JudgeClient(fast_settings.replace(concurrency=5))
        results = await asyncio.gather(*(client.chat(MSG) for _ in range(40)))
        await client.close()
        return results

    results = run(go())
    assert all(r.ok for r in results)
    assert judge_server.max_in_flight == 5


def test_requests_per_minute_limit_spaces_requests(judge_server, fast_settings):
    async def go():
        client = JudgeClient(fast_settings.replace(rpm=600.0))  # 10 per second, burst 50
        client._rpm.tokens = 0  # start empty to observe the refill rate
        t0 = time.monotonic()
        await asyncio.gather(*(client.chat(MSG) for _ in range(5)))
        await client.close()
        return time.monotonic() - t0

    assert run(go()) >= 0.4


def test_settings_from_env_follow_the_original_backend_convention():
    env = {"JUDGE_MODEL": "qwen-plus", "API_PARALLEL": "12"}
    s = JudgeSettings.from_env(env)
    assert s.backend == "dashscope" and s.concurrency == 12 and s.key_env == "DASHSCOPE_API_KEY"
    assert JudgeSettings.from_env({"JUDGE_MODEL": "gpt-4o"}).backend == "openai"
    assert JudgeSettings.from_env({"JUDGE_MODEL": "qwen-plus", "JUDGE_BACKEND": "openai"}).backend == "openai"
    with pytest.raises(JudgeConfigError, match="API_PARALLEL"):
        JudgeSettings.from_env({"API_PARALLEL": "lots"})
    with pytest.raises(JudgeConfigError, match="JUDGE_BACKEND"):
        JudgeSettings.from_env({"JUDGE_BACKEND": "carrier-pigeon"})


def test_settings_never_hold_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123456789012345678901234")
    s = JudgeSettings.from_env()
    assert "sk-secret" not in repr(s) and "sk-secret" not in str(s.public_dict())


def test_single_endpoint_with_capacity_is_a_pool(judge_server, fast_settings):
    from writing_rl.judge.client import make_backend
    from writing_rl.judge.pool import PoolBackend

    settings = fast_settings.replace(base_url=f"{judge_server.base_url}#4")
    assert isinstance(make_backend(settings), PoolBackend)
    res = chat(settings)
    assert res.ok and judge_server.count == 1


def test_refused_connection_is_not_reported_as_a_timeout(fast_settings):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    res = chat(fast_settings.replace(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout_s=30))
    assert not res.ok and "connection error" in res.error and res.latency_s < 5
