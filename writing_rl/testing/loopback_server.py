"""An aiohttp app served on a loopback address from a thread of its own: start, stop, and kill like a crash."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, TypeVar

from aiohttp import web

LOOPBACK = ("127.0.0.1", "::1", "localhost")
Self = TypeVar("Self", bound="LoopbackServer")


class LoopbackServer:
    """The lifecycle of a test server; a subclass adds its handlers in ``routes``. Binds loopback addresses only."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"{type(self).__name__} only binds loopback addresses, not {host!r}")
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._killed = False

    # ----------------------------------------------------------------- lifecycle
    def start(self: Self) -> Self:
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError(f"{type(self).__name__} did not start")
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

    def routes(self, app: web.Application) -> None:
        """Add the server's handlers to ``app``."""
        raise NotImplementedError

    async def _start_app(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self.routes(app)
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

    def __enter__(self: Self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
