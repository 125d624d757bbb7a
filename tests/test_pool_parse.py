"""Judge pool configuration: parsing JUDGE_BASE_URL, default capacities, keys, warnings, metrics."""

from __future__ import annotations

import asyncio
import logging

import pytest

from writing_rl.judge import JudgeClient, JudgeConfigError, JudgeSettings
from writing_rl.judge.client import make_backend
from writing_rl.judge.pool import PoolBackend
from writing_rl.judge.pool_spec import parse_pool
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply


def test_parse_capacities_names_and_default_split():
    specs = parse_pool("http://h1:8000/v1#32, http://h2:8001/v1 ,https://judge.example.com/v1#4", concurrency=30)
    assert [(s.url, s.capacity, s.name) for s in specs] == [
        ("http://h1:8000/v1", 32, "h1:8000"),
        ("http://h2:8001/v1", 10, "h2:8001"),  # no '#': API_PARALLEL split evenly
        ("https://judge.example.com/v1", 4, "judge.example.com:443"),
    ]
    assert [s.capacity for s in parse_pool("http://a:1/v1,http://b:1/v1,http://c:1/v1", 2)] == [1, 1, 1]
    same_host = parse_pool("http://h:80/a/v1,http://h:80/b/v1,", 8)  # trailing comma is harmless
    assert [s.name for s in same_host] == ["h:80", "h:80#2"]


@pytest.mark.parametrize(
    "value, needle",
    [
        ("http://h1:8000/v1#0,http://h2/v1", "'http://h1:8000/v1#0'"),
        ("http://h1:8000/v1#many,http://h2/v1", "capacity after '#'"),
        ("h1:8000/v1,http://h2/v1", "'h1:8000/v1'"),
        ("http://h1:99999/v1,http://h2/v1", "'http://h1:99999/v1'"),
        ("ftp://h1/v1,http://h2/v1", "not an http(s) URL"),
        ("http://h1/v1#4,http://h1/v1#8", "more than once"),
        (" , ", "lists no endpoint"),
    ],
)
def test_bad_entries_name_the_setting_and_the_entry(value, needle):
    with pytest.raises(JudgeConfigError) as e:
        parse_pool(value, 16)
    assert "JUDGE_BASE_URL" in str(e.value) and needle in str(e.value)


def test_comma_list_selects_the_pool_and_local_endpoints_need_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    backend = make_backend(JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1#2,http://localhost:10/v1#3"))
    assert isinstance(backend, PoolBackend)
    assert [(e.name, e.capacity) for e in backend.endpoints] == [("127.0.0.1:9", 2), ("localhost:10", 3)]
    asyncio.run(backend.close())


def test_remote_pool_without_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(JudgeConfigError, match="OPENAI_API_KEY"):
        PoolBackend(JudgeSettings(model="m", base_url="http://10.1.2.3:8000/v1,http://10.1.2.4:8000/v1"))


def test_pool_rejects_dashscope_and_the_pool_knobs_come_with_the_settings():
    with pytest.raises(JudgeConfigError, match="JUDGE_BACKEND=openai"):
        PoolBackend(JudgeSettings(model="m", backend="dashscope", base_url="http://127.0.0.1:1/v1,http://127.0.0.1:2/v1"))
    # the variables are parsed once, where the run is launched; bad values are named there
    with pytest.raises(JudgeConfigError, match="JUDGE_POOL_COOLDOWN='soon'"):
        JudgeSettings.from_env({"JUDGE_POOL_COOLDOWN": "soon"})
    with pytest.raises(JudgeConfigError, match="JUDGE_POOL_EJECT_AFTER must be at least 1"):
        JudgeSettings.from_env({"JUDGE_POOL_EJECT_AFTER": "0"})
    settings = JudgeSettings.from_env({"JUDGE_POOL_COOLDOWN": "2.5", "JUDGE_POOL_EJECT_AFTER": "5", "JUDGE_MODEL": "m",
                                       "JUDGE_BASE_URL": "http://127.0.0.1:1/v1,http://127.0.0.1:2/v1"})
    pool = PoolBackend(settings)
    assert (pool.cooldown_s, pool.eject_after) == (2.5, 5)


def test_warns_once_when_api_parallel_is_below_total_capacity(caplog):
    url = "http://127.0.0.1:7/v1#16,http://127.0.0.1:8/v1#16"
    with caplog.at_level(logging.WARNING, logger="writing_rl.judge.pool"):
        PoolBackend(JudgeSettings(model="m", base_url=url, concurrency=20))
        PoolBackend(JudgeSettings(model="m", base_url=url, concurrency=20))
        PoolBackend(JudgeSettings(model="m", base_url=url, concurrency=32))  # enough: no warning
    warnings = [r.getMessage() for r in caplog.records if "API_PARALLEL" in r.getMessage()]
    assert len(warnings) == 1 and "API_PARALLEL=20" in warnings[0] and "32" in warnings[0]


def test_metrics_and_summary_after_traffic(monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000000000")
    with (
        FakeJudgeServer(lambda r: Reply(text="VERDICT: A", delay_s=0.01)) as a,
        FakeJudgeServer(lambda r: Reply(text="VERDICT: A", delay_s=0.03)) as b,
    ):
        settings = JudgeSettings(model="m", base_url=f"{a.base_url}#2,{b.base_url}#2", concurrency=4)

        async def go():
            client = JudgeClient(settings)
            results = await asyncio.gather(*(client.chat([{"role": "user", "content": f"q{i}"}]) for i in range(12)))
            metrics = client.backend.metrics()
            with caplog.at_level(logging.INFO, logger="writing_rl.judge.pool"):
                await client.close()
            return results, metrics

        results, m = asyncio.run(go())
    assert all(r.ok for r in results)
    for srv in (a, b):
        p = f"judge_pool/127.0.0.1:{srv.port}/"
        assert m[p + "requests"] == srv.count > 0
        assert m[p + "failures"] == 0 and m[p + "healthy"] == 1.0 and m[p + "capacity"] == 2.0
        assert m[p + "in_flight"] == 0
        assert 0.0 < m[p + "latency_p50"] <= m[p + "latency_p95"]
    assert m[f"judge_pool/127.0.0.1:{b.port}/latency_p50"] > m[f"judge_pool/127.0.0.1:{a.port}/latency_p50"]
    assert m["judge_pool/healthy_endpoints"] == 2.0
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("judge pool:")]
    assert summary and f"127.0.0.1:{a.port} healthy cap=2 req={a.count}" in summary[0]
    assert "sk-test" not in caplog.text


def test_latency_percentiles_are_absent_without_successes():
    pool = PoolBackend(JudgeSettings(model="m", base_url="http://127.0.0.1:5/v1,http://127.0.0.1:6/v1"))
    m = pool.metrics()
    assert "judge_pool/127.0.0.1:5/requests" in m
    assert not any(k.endswith(("latency_p50", "latency_p95")) for k in m)
    assert pool.states() == {"127.0.0.1:5": "healthy", "127.0.0.1:6": "healthy"}
