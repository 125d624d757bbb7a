"""A scripted judge server on 127.0.0.1 speaking the OpenAI chat-completions and DashScope wire formats.

Tests and benchmarks drive it per request through a *script*: a function that receives a
``ScriptRequest`` and returns a ``Reply`` (text, latency, HTTP status, headers, a raw body for
malformed JSON, ``drop=True`` to cut the connection, ``trickle_s`` to dribble keep-alive bytes
before the body, ``echo_headers=True`` to copy the request's headers, key included, into an error
body, ``finish_reason``). It records every request and the largest number of requests in flight.
It refuses to bind anything but a loopback address.

Like a provider with automatic prefix caching, it reports cached prompt tokens: OpenAI-compatible
``usage.prompt_tokens_details.cached_tokens`` and the same field in DashScope's native usage. It
remembers every prompt it has seen in blocks of ``cache_block_chars`` characters (chained hashes,
as vLLM does with token blocks); a request's cached part is its longest run of leading blocks seen
before, counted at 4 characters per token (the default token estimate). ``Reply.cached_tokens``
overrides the figure, and ``cache_block_chars=0`` turns the cache off (the field is then omitted).
Ready-made pairwise judges with known behaviour (for ``writing-rl judge audit`` and its tests):
``first_answer_judge`` (always ``VERDICT: A``), ``longer_answer_judge`` (the answer with more
characters), ``accurate_judge`` (the stronger answer on exactly ``accuracy`` of its calls) and
``flaky_judge`` (wraps another script and answers ``failure_rate`` of the calls with no verdict
line). Rates are exact, not drawn at random: call i misbehaves when ``floor((i + 1) * rate)``
passes an integer, so any run of calls holds the stated share, whatever the arrival order.

``accurate_judge`` must know which answer is stronger. By default it reads a level mark that the
test data puts at the start of each reference text, ``[level N]`` (``level_text(N, body)`` writes
one; higher N is stronger); pass ``level_of`` to read levels some other way.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from aiohttp import web

# A scripted dropped connection is expected here; aiohttp would log it as an error.
logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class Reply:
    text: str = "VERDICT: B"
    delay_s: float = 0.0
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    drop: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    finish_reason: str = "stop"
    trickle_s: float = 0.0  # send a space every 0.1 s for this long before the JSON body
    echo_headers: bool = False  # an error body that repeats the request headers (as some proxies do)


CHARS_PER_TOKEN = 4


@dataclass
class ScriptRequest:
    index: int
    path: str
    api: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def prompt(self) -> str:
        msgs = self.body.get("messages") or self.body.get("input", {}).get("messages") or []
        return "\n".join(str(m.get("content", "")) for m in msgs)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))


Script = Callable[[ScriptRequest], Reply]


def answer_block(prompt: str, label: str) -> str:
    """Extract the text of answer ``label`` ("A" or "B") from a rendered pairwise prompt."""
    m = re.search(rf"<<<ANSWER {label} (\w+)>>>\n(.*?)\n<<<END OF ANSWER {label} \1>>>", prompt, re.DOTALL)
    return m.group(2) if m else ""


# ------------------------------------------------------------------ scripted pairwise judges
_LEVEL_MARK = re.compile(r"\[level (\d+)\]")


def level_text(level: int, body: str) -> str:
    """A reference text carrying its level for ``accurate_judge``: ``[level N] body``."""
    return f"[level {level}] {body}"


def marked_level(text: str) -> int | None:
    """The level written by ``level_text`` at the start of ``text``, or None."""
    m = _LEVEL_MARK.search(text[:200])
    return int(m.group(1)) if m else None


class EveryNth:
    """True on exactly ``rate`` of the calls, spread evenly: call i fires when floor((i+1)*rate) > floor(i*rate)."""

    def __init__(self, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, got {rate}")
        self.rate = Fraction(rate).limit_denominator(10_000)
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        with self._lock:
            i = self.calls
            self.calls += 1
        return math.floor((i + 1) * self.rate) > math.floor(i * self.rate)


def verdict_reply(choice: str, delay_s: float = 0.0) -> Reply:
    """A short judge reply ending with ``VERDICT: <choice>``."""
    return Reply(text=f"Both answers were read closely.\nVERDICT: {choice}", delay_s=delay_s)


def first_answer_judge(delay_s: float = 0.0) -> Script:
    """Always prefers answer A, whatever the texts."""
    return lambda req: verdict_reply("A", delay_s)


def longer_answer_judge(delay_s: float = 0.0) -> Script:
    """Prefers the answer with more characters (TIE when equal)."""

    def script(req: ScriptRequest) -> Reply:
        a, b = len(answer_block(req.prompt, "A")), len(answer_block(req.prompt, "B"))
        return verdict_reply("TIE" if a == b else ("A" if a > b else "B"), delay_s)

    return script


def accurate_judge(
    accuracy: float = 0.8, level_of: Callable[[str], int | None] = marked_level, delay_s: float = 0.0
) -> Script:
    """Picks the stronger answer on exactly ``accuracy`` of its calls and the weaker one otherwise.

    The stronger answer is the one with the higher ``level_of(text)``; equal or unknown levels get TIE.
    """
    wrong = EveryNth(1.0 - accuracy)

    def script(req: ScriptRequest) -> Reply:
        la, lb = level_of(answer_block(req.prompt, "A")), level_of(answer_block(req.prompt, "B"))
        if la is None or lb is None or la == lb:
            return verdict_reply("TIE", delay_s)
        stronger, weaker = ("A", "B") if la > lb else ("B", "A")
        return verdict_reply(weaker if wrong() else stronger, delay_s)

    return script


def flaky_judge(inner: Script, failure_rate: float = 0.1, fault: Reply | None = None) -> Script:
    """Answers ``failure_rate`` of the calls with ``fault`` (default: a reply with no verdict line)."""
    fails = EveryNth(failure_rate)
    fault = fault or Reply(text="Both answers have merits and I cannot decide between them.")

    def script(req: ScriptRequest) -> Reply:
        return fault if fails() else inner(req)

    return script


@dataclass
class RequestRecord:
    index: int
    path: str
    model: str
    status: int
    started: float
    finished: float
    delay_s: float
    prompt: str


class FakeJudgeServer:
    """Run with ``with FakeJudgeServer(script) as srv:``; ``srv.base_url`` is the OpenAI base URL."""

    def __init__(self, script: Script | None = None, host: str = "127.0.0.1", port: int = 0,
                 cache_block_chars: int = 64) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"FakeJudgeServer only binds loopback addresses, not {host!r}")
        self.script: Script = script or (lambda req: Reply())
        self.cache_block_chars = cache_block_chars
        self._blocks: set[bytes] = set()
        self.cached_tokens_total = 0
        self.host = host
        self.port = port
        self.records: list[RequestRecord] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.total_delay_s = 0.0
        self._count = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._killed = False

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeJudgeServer:
        self._thread = threading.Thread(target=self._run, name="fake-judge", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("fake judge server did not start")
        if self._error:
            raise self._error
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start_app())
        except BaseException as e:  # surfaced to start()
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
        self._loop.close()

    async def _start_app(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle_openai)
        app.router.add_post("/chat/completions", self._handle_openai)
        app.router.add_post("/api/v1/services/aigc/text-generation/generation", self._handle_dashscope)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def kill(self) -> None:
        """Die abruptly, like a crashed server: cut every open connection (requests in flight get no
        reply), answer nothing more and stop listening. ``stop()`` lets requests in flight finish."""
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._abort_connections)
            self.stop()

    def _abort_connections(self) -> None:
        self._killed = True
        server = self._runner.server if self._runner else None
        for handler in server.connections if server else []:
            if handler.transport is not None:
                handler.transport.abort()
        for task in asyncio.all_tasks(self._loop):  # the request handlers: a dead server finishes nothing
            task.cancel()

    def __enter__(self) -> FakeJudgeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ----------------------------------------------------------------- properties
    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def dashscope_url(self) -> str:
        return f"{self.root_url}/api/v1"

    @property
    def count(self) -> int:
        return self._count

    def reset(self) -> None:
        with self._lock:
            self.records.clear()
            self._count = 0
            self.max_in_flight = 0
            self.total_delay_s = 0.0

    def clear_cache(self) -> None:
        """Forget every cached prompt block (a provider's cache eviction)."""
        with self._lock:
            self._blocks.clear()

    def _cached_tokens(self, prompt: str) -> int:
        """Look ``prompt`` up in the simulated prefix cache and add its blocks; cached tokens."""
        size = self.cache_block_chars
        digest = b""
        hit_chars, hitting = 0, True
        with self._lock:
            for start in range(0, len(prompt) - size + 1, size):
                digest = hashlib.blake2b(digest + prompt[start:start + size].encode("utf-8"), digest_size=16).digest()
                if hitting and digest in self._blocks:
                    hit_chars += size
                else:
                    hitting = False
                    self._blocks.add(digest)
        return hit_chars // CHARS_PER_TOKEN

    def _usage(self, req: ScriptRequest, reply: Reply, names: tuple[str, str]) -> dict[str, Any]:
        pt = reply.prompt_tokens if reply.prompt_tokens is not None else max(1, len(req.prompt) // CHARS_PER_TOKEN)
        ct = reply.completion_tokens if reply.completion_tokens is not None else max(1, len(reply.text) // 4)
        usage: dict[str, Any] = {names[0]: pt, names[1]: ct, "total_tokens": pt + ct}
        if reply.cached_tokens is not None or self.cache_block_chars > 0:
            cached = self._cached_tokens(req.prompt) if self.cache_block_chars > 0 else 0
            cached = min(pt, cached if reply.cached_tokens is None else reply.cached_tokens)
            self.cached_tokens_total += cached
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        return usage

    # ----------------------------------------------------------------- handlers
    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake-judge", "object": "model"}]})

    async def _scripted(self, request: web.Request, api: str) -> tuple[ScriptRequest, Reply, float]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {}
        with self._lock:
            idx = self._count
            self._count += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        req = ScriptRequest(idx, request.path, api, body, dict(request.headers))
        started = time.monotonic()
        try:
            reply = self.script(req)
            if reply.delay_s > 0:
                await asyncio.sleep(reply.delay_s)
        finally:
            with self._lock:
                self.in_flight -= 1
                self.total_delay_s += max(0.0, reply.delay_s) if "reply" in locals() else 0.0
        with self._lock:
            self.records.append(
                RequestRecord(idx, request.path, req.model, reply.status, started, time.monotonic(),
                              reply.delay_s, req.prompt)
            )
        return req, reply, started

    async def _trickle(self, request: web.Request, reply: Reply, payload: dict[str, Any]) -> web.StreamResponse:
        resp = web.StreamResponse(status=reply.status, headers={**reply.headers, "Content-Type": "application/json"})
        await resp.prepare(request)
        end = time.monotonic() + reply.trickle_s
        while time.monotonic() < end:  # JSON allows leading whitespace: each byte resets a read timeout
            await resp.write(b" ")
            await asyncio.sleep(0.1)
        await resp.write(json.dumps(payload).encode())
        await resp.write_eof()
        return resp

    def _error_body(self, req: ScriptRequest, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        if not reply.echo_headers:
            return body
        echoed = f" (request headers: {json.dumps(req.headers)})"
        if isinstance(body.get("error"), dict):  # OpenAI's shape
            return {**body, "error": {**body["error"], "message": body["error"]["message"] + echoed}}
        return {**body, "message": body["message"] + echoed}  # DashScope's

    def _drop(self, request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError("dropped by script")

    async def _handle_openai(self, request: web.Request) -> web.StreamResponse:
        req, reply, _ = await self._scripted(request, "openai")
        if reply.drop or self._killed:
            return self._drop(request)
        if reply.body is not None:
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers,
                                content_type="application/json")
        if reply.status != 200:
            err = {"error": {"message": f"scripted error {reply.status}", "type": "scripted", "code": reply.status}}
            return web.json_response(self._error_body(req, reply, err), status=reply.status, headers=reply.headers)
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.model or "fake-judge",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": reply.text},
                 "finish_reason": reply.finish_reason}
            ],
            "usage": self._usage(req, reply, ("prompt_tokens", "completion_tokens")),
        }
        if reply.trickle_s > 0:
            return await self._trickle(request, reply, payload)
        return web.json_response(payload, headers=reply.headers)

    async def _handle_dashscope(self, request: web.Request) -> web.StreamResponse:
        req, reply, _ = await self._scripted(request, "dashscope")
        if reply.drop or self._killed:
            return self._drop(request)
        if reply.body is not None:
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers,
                                content_type="application/json")
        rid = uuid.uuid4().hex
        if reply.status != 200:
            err = {"request_id": rid, "code": "Scripted", "message": f"scripted error {reply.status}"}
            return web.json_response(self._error_body(req, reply, err), status=reply.status, headers=reply.headers)
        payload = {
            "request_id": rid,
            "output": {
                "choices": [{"finish_reason": reply.finish_reason,
                             "message": {"role": "assistant", "content": reply.text}}]
            },
            "usage": self._usage(req, reply, ("input_tokens", "output_tokens")),
        }
        if reply.trickle_s > 0:
            return await self._trickle(request, reply, payload)
        return web.json_response(payload, headers=reply.headers)


def hashed_verdict(req: ScriptRequest) -> Reply:
    """A deterministic mix of verdicts from a hash of the two answers (about 40% A, 40% B, 20% tie)."""
    import hashlib

    digest = hashlib.sha256((answer_block(req.prompt, "A") + "\0" + answer_block(req.prompt, "B")).encode()).digest()
    verdict = ("A", "A", "B", "B", "TIE")[digest[0] % 5]
    return Reply(text=f"Compared both answers.\nVERDICT: {verdict}")


POLICIES: dict[str, Script] = {
    "hash": hashed_verdict,
    "a": lambda req: Reply(text="VERDICT: A"),
    "b": lambda req: Reply(text="VERDICT: B"),
    "tie": lambda req: Reply(text="VERDICT: TIE"),
}


def main(argv: list[str] | None = None) -> int:
    """``python -m writing_rl.testing.fake_judge [--port P] [--policy hash|a|b|tie]``: serve until stopped.

    Prints ``JUDGE_BASE_URL=http://127.0.0.1:P/v1`` once it listens (the launcher's ``--cpu-smoke``
    uses this when no judge endpoint and no key are configured).
    """
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--policy", choices=sorted(POLICIES), default="hash")
    args = parser.parse_args(argv)
    server = FakeJudgeServer(POLICIES[args.policy], port=args.port).start()
    print(f"JUDGE_BASE_URL={server.base_url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
