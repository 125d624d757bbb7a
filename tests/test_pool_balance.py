"""Judge pool load spreading over real loopback servers: shares follow capacity, caps hold."""

from __future__ import annotations

import asyncio

from writing_rl.judge import JudgeClient, JudgeSettings, PairwiseJudge
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply


def settings_for(entries: list[str], concurrency: int) -> JudgeSettings:
    return JudgeSettings(
        model="fake-judge", base_url=",".join(entries), concurrency=concurrency,
        backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=5.0, max_retries=2,
    )


def run_requests(settings: JudgeSettings, n: int):
    async def go():
        client = JudgeClient(settings)
        try:
            results = await asyncio.gather(*(client.chat([{"role": "user", "content": f"q{i}"}]) for i in range(n)))
            return results, client.backend.metrics()
        finally:
            await client.close()

    return asyncio.run(go())


def test_requests_are_shared_in_proportion_to_capacity():
    with (
        FakeJudgeServer(lambda r: Reply(delay_s=0.1)) as small,
        FakeJudgeServer(lambda r: Reply(delay_s=0.1)) as large,
    ):
        results, m = run_requests(settings_for([f"{small.base_url}#8", f"{large.base_url}#24"], 32), 200)
        assert all(r.ok and r.attempts == 1 for r in results)
        assert small.count + large.count == 200
        assert 0.68 <= large.count / 200 <= 0.82  # 3:1 capacity -> 75 % of the requests
        assert small.max_in_flight <= 8 and large.max_in_flight <= 24  # per-endpoint caps hold
        assert large.max_in_flight > 8  # and the larger one is really used beyond the smaller cap
        assert m[f"judge_pool/127.0.0.1:{large.port}/requests"] == large.count


def test_faster_endpoint_takes_more_of_the_load_at_equal_capacity():
    with (
        FakeJudgeServer(lambda r: Reply(delay_s=0.01)) as fast,
        FakeJudgeServer(lambda r: Reply(delay_s=0.06)) as slow,
    ):
        results, _ = run_requests(settings_for([f"{fast.base_url}#6", f"{slow.base_url}#6"], 12), 120)
    assert all(r.ok for r in results)
    assert fast.count > 2 * slow.count  # slots on the fast one free up sooner
    assert fast.max_in_flight <= 6 and slow.max_in_flight <= 6


def test_requests_wait_for_a_free_slot_when_every_endpoint_is_full():
    """API_PARALLEL above the pool's capacity: the pool queues instead of overloading a server."""
    with (
        FakeJudgeServer(lambda r: Reply(delay_s=0.03)) as a,
        FakeJudgeServer(lambda r: Reply(delay_s=0.03)) as b,
    ):
        results, m = run_requests(settings_for([f"{a.base_url}#2", f"{b.base_url}#3"], 50), 40)
    assert all(r.ok and r.attempts == 1 for r in results)
    assert a.count + b.count == 40
    assert a.max_in_flight == 2 and b.max_in_flight == 3
    assert m["judge_pool/failovers"] == 0


def test_pairwise_judge_runs_over_a_pool_from_the_environment_variable(monkeypatch):
    """The ordinary path: JUDGE_BASE_URL with a comma makes every judge call go through the pool."""
    verdict = lambda r: Reply(text="Answer B is clearer.\nVERDICT: B", delay_s=0.005)  # noqa: E731
    with FakeJudgeServer(verdict) as a, FakeJudgeServer(verdict) as b:
        monkeypatch.setenv("JUDGE_BASE_URL", f"{a.base_url}#4,{b.base_url}#4")
        monkeypatch.setenv("JUDGE_MODEL", "fake-judge")
        monkeypatch.setenv("API_PARALLEL", "8")
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # loopback endpoints need no key
        judge = PairwiseJudge(JudgeSettings.from_env())

        async def go():
            try:
                return await asyncio.gather(
                    *(judge.compare("Write a haiku.", "Reference haiku.", f"Response {i}.") for i in range(16))
                )
            finally:
                await judge.client.close()

        judgments = asyncio.run(go())
    assert [j.outcome for j in judgments] == ["win"] * 16
    assert a.count > 0 and b.count > 0 and a.count + b.count == 16
