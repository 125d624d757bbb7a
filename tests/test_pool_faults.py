"""Judge pool faults over real loopback servers: a killed server, 500s, 429s, hangs, fatal errors."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from writing_rl.judge import JudgeClient, JudgeConfigError, JudgeSettings, PairwiseJudge
from writing_rl.judge.pool import PoolBackend
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

LOGGER = "writing_rl.judge.pool"


def settings_for(servers, caps, concurrency: int, **kw) -> JudgeSettings:
    base = dict(backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=3.0, max_retries=2)
    base.update(kw)
    urls = [getattr(s, "base_url", s) for s in servers]  # a server or a plain URL
    url = ",".join(f"{u}#{c}" for u, c in zip(urls, caps, strict=True))
    return JudgeSettings(model="fake-judge", base_url=url, concurrency=concurrency, **base)


def msg(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"q{i}"}]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_killed_server_mid_run_loses_no_judgment_and_costs_no_attempts(caplog):
    def dying(req):  # from its 20th request on it stalls, then it is killed with those requests in flight
        return Reply(delay_s=0.05 if req.index < 20 else 2.0)

    a, b = (FakeJudgeServer(lambda r: Reply(delay_s=0.05)).start() for _ in range(2))
    victim = FakeJudgeServer(dying).start()
    servers = [a, b, victim]
    n = 240
    try:
        pool_settings = settings_for(servers, [8, 8, 8], 24)

        async def go():
            pool = PoolBackend(pool_settings, cooldown_s=0.2)
            client = JudgeClient(pool_settings, backend=pool)

            async def killer():
                while victim.count < 20 or victim.in_flight < 3:
                    await asyncio.sleep(0.005)
                await asyncio.to_thread(victim.kill)  # its in-flight requests get no reply

            try:
                results, _ = await asyncio.gather(asyncio.gather(*(client.chat(msg(i)) for i in range(n))), killer())
                return results, pool.metrics(), pool.states()
            finally:
                await client.close()

        with caplog.at_level(logging.WARNING, logger=LOGGER):
            results, m, states = asyncio.run(go())
    finally:
        for s in servers:
            s.stop()
    assert all(r.ok for r in results) and len(results) == n
    assert all(r.attempts == 1 for r in results)  # fail-over happened inside one client attempt
    v = f"judge_pool/127.0.0.1:{victim.port}/"
    victim_ok = m[v + "requests"] - m[v + "failures"]
    dropped_in_flight = victim.count - victim_ok
    assert dropped_in_flight >= 3  # the victim received requests it never answered ...
    # ... and the server counts show each was re-sent and answered once by a survivor
    assert a.count + b.count == n - victim_ok
    assert sum(m[f"judge_pool/127.0.0.1:{s.port}/failures"] for s in (a, b)) == 0
    assert m["judge_pool/failovers"] == m[v + "failures"] >= dropped_in_flight
    assert states[f"127.0.0.1:{victim.port}"] == "ejected" and m[v + "healthy"] == 0.0
    assert f"endpoint 127.0.0.1:{victim.port} ejected after 3 consecutive failures" in caplog.text


def test_server_returning_500s_is_ejected_then_readmitted_after_cooldown(caplog):
    bad = {"on": True}
    cooldown = 0.3

    def flaky(req):
        return Reply(status=500, delay_s=0.005) if bad["on"] else Reply(delay_s=0.01)

    with FakeJudgeServer(lambda r: Reply(delay_s=0.01)) as good, FakeJudgeServer(flaky) as sick:
        pool_settings = settings_for([good, sick], [4, 4], 8)
        name = f"127.0.0.1:{sick.port}"

        async def go():
            pool = PoolBackend(pool_settings, eject_after=3, cooldown_s=cooldown, max_cooldown_s=cooldown)
            client = JudgeClient(pool_settings, backend=pool)
            try:
                t0 = time.monotonic()
                r1 = await asyncio.gather(*(client.chat(msg(i)) for i in range(40)))
                state1, sick1, t1 = pool.states()[name], sick.count, time.monotonic()
                r2 = await asyncio.gather(*(client.chat(msg(i)) for i in range(40)))
                sick2, elapsed2 = sick.count, time.monotonic() - t1
                bad["on"] = False  # the server recovers
                await asyncio.sleep(cooldown + 0.05)
                r3 = await asyncio.gather(*(client.chat(msg(i)) for i in range(40)))
                return r1 + r2 + r3, state1, (sick1, t1 - t0), sick2, elapsed2, pool.states()[name], pool.metrics()
            finally:
                await client.close()

        with caplog.at_level(logging.INFO, logger=LOGGER):
            results, state1, (sick1, elapsed1), sick2, elapsed2, state3, m = asyncio.run(go())
        assert all(r.ok and r.attempts == 1 for r in results)  # no judgment lost, no client retries
        # out after 3 failures (+ what was already in flight, + the odd probe)
        assert state1 == "ejected" and 3 <= sick1 <= 3 + 3 + int(elapsed1 / cooldown)
        assert sick2 - sick1 <= 1 + int(elapsed2 / cooldown)  # while out it only sees the odd probe
        assert state3 == "healthy"
        assert sick.count - sick2 >= 10  # re-admitted: it takes its share again
        assert m[f"judge_pool/{name}/ejections"] == 1.0
        assert f"endpoint {name} ejected after 3 consecutive failures (last: HTTP 500)" in caplog.text
        assert f"endpoint {name} re-admitted" in caplog.text


def test_failed_probe_keeps_the_endpoint_out_and_doubles_the_cooldown(caplog):
    with FakeJudgeServer(lambda r: Reply(delay_s=0.005)) as good, FakeJudgeServer(lambda r: Reply(status=503)) as sick:
        pool_settings = settings_for([good, sick], [2, 2], 4)
        name = f"127.0.0.1:{sick.port}"

        async def go():
            pool = PoolBackend(pool_settings, eject_after=2, cooldown_s=0.3, max_cooldown_s=1.2)
            client = JudgeClient(pool_settings, backend=pool)
            try:
                for i in range(6):  # sequential: the sick one is tried, fails, the request moves on
                    assert (await client.chat(msg(i))).ok
                out = pool.states()[name]
                await asyncio.sleep(0.35)
                assert (await client.chat(msg(99))).ok  # this one probes the sick server first
                return out, pool.endpoints[1].cooldown_s, pool.states()[name]
            finally:
                await client.close()

        with caplog.at_level(logging.WARNING, logger=LOGGER):
            first, cooldown_after, after_probe = asyncio.run(go())
    assert first == "ejected" and after_probe == "ejected"
    assert cooldown_after == pytest.approx(0.6)
    assert sick.count == 3  # two failures to eject it, then exactly one probe
    assert f"probe of {name} failed (HTTP 503); next probe in" in caplog.text


def test_429_marks_the_endpoint_busy_for_its_retry_after_without_ejecting_it():
    def busy_once(req):
        return Reply(status=429, headers={"Retry-After": "1"}) if req.index == 0 else Reply()

    with FakeJudgeServer(busy_once) as first, FakeJudgeServer(lambda r: Reply()) as second:
        pool_settings = settings_for([first, second], [4, 4], 8)

        async def go():
            pool = PoolBackend(pool_settings, eject_after=1)
            client = JudgeClient(pool_settings, backend=pool)
            try:
                results = [await client.chat(msg(i)) for i in range(5)]  # sequential, within the Retry-After
                return results, pool.metrics(), pool.states()
            finally:
                await client.close()

        results, m, states = asyncio.run(go())
    assert all(r.ok and r.attempts == 1 for r in results)
    assert (first.count, second.count) == (1, 5)
    p = f"judge_pool/127.0.0.1:{first.port}/"
    assert (m[p + "throttled"], m[p + "failures"], m[p + "ejections"]) == (1.0, 0.0, 0.0)
    assert set(states.values()) == {"healthy"}


def test_hanging_endpoint_times_out_and_the_request_moves_on():
    with FakeJudgeServer(lambda r: Reply(delay_s=3.0)) as hung, FakeJudgeServer(lambda r: Reply()) as ok:
        pool_settings = settings_for([hung, ok], [1, 1], 2, timeout_s=0.3)

        async def go():
            client = JudgeClient(pool_settings)
            try:
                return await client.chat(msg(0)), client.backend.metrics()
            finally:
                await client.close()

        res, m = asyncio.run(go())
    assert res.ok and res.attempts == 1 and res.latency_s >= 0.3
    assert (hung.count, ok.count) == (1, 1)
    assert m[f"judge_pool/127.0.0.1:{hung.port}/failures"] == 1.0


def test_every_endpoint_down_fails_the_judgment_honestly():
    urls = [closed_port_url(), closed_port_url()]
    pool_settings = settings_for(urls, [2, 2], 4, max_retries=1)

    async def go():
        out = []
        for use_judge in (False, True):  # a fresh pool each time: both endpoints start healthy
            pool = PoolBackend(pool_settings, eject_after=1, cooldown_s=5.0)
            client = JudgeClient(pool_settings, backend=pool)
            try:
                if use_judge:
                    judge = PairwiseJudge(pool_settings, client=client)
                    out.append(await judge.compare("Q?", "reference text", "response text"))
                else:
                    out.append(await client.chat(msg(0)))
                out.append(pool.states())
            finally:
                await client.close()
        return out

    res, states, judgment, _ = asyncio.run(go())
    assert not res.ok and res.text is None and res.attempts == 2
    assert res.errors[0].startswith(tuple(u[7:-3] for u in urls))  # names the endpoint that failed last
    assert res.errors[1].startswith("no judge endpoint available") and "ejected" in res.errors[1]
    assert judgment.outcome == "failed" and judgment.attempts == 2
    assert "gave up after 2 attempts; last error: no judge endpoint available" in judgment.reason
    assert set(states.values()) == {"ejected"}


def test_fatal_error_from_an_endpoint_propagates_and_frees_its_slot():
    with FakeJudgeServer(lambda r: Reply(status=401)) as locked, FakeJudgeServer(lambda r: Reply()) as ok:
        pool_settings = settings_for([locked, ok], [1, 1], 2)

        async def go():
            pool = PoolBackend(pool_settings)
            client = JudgeClient(pool_settings, backend=pool)
            try:
                with pytest.raises(JudgeConfigError) as e:
                    await client.chat(msg(0))
                return str(e.value), [ep.in_flight for ep in pool.endpoints]
            finally:
                await client.close()

        message, in_flight = asyncio.run(go())
    assert locked.base_url in message and "401" in message and "OPENAI_API_KEY" in message
    assert in_flight == [0, 0] and ok.count == 0
