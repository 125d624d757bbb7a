"""Endpoint settings for any model called outside training (a policy, a competitor, a model under
evaluation, the scoring judge) and the clients that call them.

``EndpointSettings`` is the judge client's settings plus ``api_key_env``: the name of the variable
that holds this endpoint's key. Without it the judge's rule applies (``OPENAI_API_KEY`` /
``DASHSCOPE_API_KEY``; a loopback URL needs none). With it, only that variable is read, so the
judge's key is never sent to a model server that is not the judge. Keys are read at call time and
never stored.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass

from ..judge.client import JudgeClient
from ..judge.errors import JudgeConfigError
from ..judge.settings import JudgeSettings


@dataclass(frozen=True)
class EndpointSettings(JudgeSettings):
    """Settings of one endpoint, whose key may live in its own variable (``api_key_env``)."""

    api_key_env: str | None = None

    @property
    def key_env(self) -> str:
        return self.api_key_env or super().key_env

    def api_key(self, env: Mapping[str, str] | None = None) -> str:
        if not self.api_key_env:
            return super().api_key(env)
        key = ((os.environ if env is None else env).get(self.api_key_env) or "").strip()
        if not key:
            raise JudgeConfigError(f"{self.api_key_env} (named by --api-key-env or api_key_env) is not set: export "
                                   "the endpoint's key in it, or EMPTY for an endpoint without authentication")
        return key


@contextlib.contextmanager
def labelled(label: str | None) -> Iterator[None]:
    """Prefix a configuration error raised inside with the endpoint it concerns."""
    try:
        yield
    except JudgeConfigError as e:
        if label is None:
            raise
        raise JudgeConfigError(f"{label}: {e}") from None


def make_client(settings: JudgeSettings, label: str | None = None) -> JudgeClient:
    """A client for one endpoint; a missing key fails here, before any call, naming the endpoint."""
    with labelled(label):
        return JudgeClient(settings)


@contextlib.asynccontextmanager
async def open_clients(
    endpoints: Mapping[str, tuple[JudgeSettings, str | None]],
) -> AsyncIterator[dict[str, JudgeClient]]:
    """One client per named endpoint (``name -> (settings, label)``), all closed on exit."""
    clients: dict[str, JudgeClient] = {}
    try:
        for name, (settings, label) in endpoints.items():
            clients[name] = make_client(settings, label)
        yield clients
    finally:
        for c in clients.values():
            await c.close()
