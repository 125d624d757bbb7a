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
The scripts and ready-made judges live in ``judge_scripts.py`` and are re-exported here.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .judge_scripts import (
    POLICIES,
    EveryNth,
    Reply,
    Script,
    ScriptRequest,
    accurate_judge,
    answer_block,
    first_answer_judge,
    flaky_judge,
    hashed_verdict,
    level_text,
    longer_answer_judge,
    marked_level,
    verdict_reply,
)
from .loopback_server import LoopbackServer

__all__ = ["POLICIES", "EveryNth", "FakeJudgeServer", "Reply", "RequestRecord", "Script", "ScriptRequest",
           "accurate_judge", "answer_block", "first_answer_judge", "flaky_judge", "hashed_verdict", "level_text",
           "longer_answer_judge", "main", "marked_level", "verdict_reply"]

# A scripted dropped connection is expected here; aiohttp would log it as an error.
logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

CHARS_PER_TOKEN = 4


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


class FakeJudgeServer(LoopbackServer):
    """Run with ``with FakeJudgeServer(script) as srv:``; ``srv.base_url`` is the OpenAI base URL."""

    def __init__(self, script: Script | None = None, host: str = "127.0.0.1", port: int = 0,
                 cache_block_chars: int = 64) -> None:
        super().__init__(host, port)
        self.script: Script = script or (lambda req: Reply())
        self.cache_block_chars = cache_block_chars
        self._blocks: set[bytes] = set()
        self.cached_tokens_total = 0
        self.records: list[RequestRecord] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.total_delay_s = 0.0
        self._count = 0
        self._lock = threading.Lock()

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
    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._handle_openai)
        app.router.add_post("/chat/completions", self._handle_openai)
        app.router.add_post("/api/v1/services/aigc/text-generation/generation", self._handle_dashscope)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)

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

    def _dropped_or_raw(self, request: web.Request, reply: Reply) -> web.Response | None:
        """A cut connection (scripted, or the server was killed) or a scripted raw body; None otherwise."""
        if reply.drop or self._killed:
            return self._drop(request)
        if reply.body is not None:
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers,
                                content_type="application/json")
        return None

    async def _handle_openai(self, request: web.Request) -> web.StreamResponse:
        req, reply, _ = await self._scripted(request, "openai")
        early = self._dropped_or_raw(request, reply)
        if early is not None:
            return early
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
        early = self._dropped_or_raw(request, reply)
        if early is not None:
            return early
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


def main(argv: list[str] | None = None) -> int:
    """``python -m writing_rl.testing.fake_judge [--port P] [--policy hash|a|b|tie]``: serve until stopped.

    Prints ``JUDGE_BASE_URL=http://127.0.0.1:P/v1`` once it listens (the launcher's ``--cpu-smoke``
    uses this when no judge endpoint and no key are configured).
    """
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
