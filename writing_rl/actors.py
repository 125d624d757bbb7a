"""Named singletons shared by every reward worker and the trainer: a Ray actor on the head node, or a local object.

Under Ray each singleton is one named actor (``get_if_exists``), pinned to the head node where there is
one, so files it writes land where the user launched the run. Without Ray (tests, the CLI) a
process-local object with the same async interface is used. ``ActorHandle`` makes both awaitable alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray

HEAD_NODE_RESOURCE = "node:__internal_head__"


class ActorHandle:
    """Awaitable calls to a singleton, whether it is a Ray actor or a local object."""

    def __init__(self, target: Any, remote: bool) -> None:
        self.target, self.remote = target, remote

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.target, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.remote:
                return await method.remote(*args, **kwargs)
            return await method(*args, **kwargs)

        return call


_LOCAL: dict[str, Any] = {}


def named_actor(cls: type, name: str, *args: Any) -> ActorHandle:
    """The singleton ``name`` of ``cls``: created with ``args`` on first use, shared by every caller after."""
    if ray.is_initialized():
        has_head = any(HEAD_NODE_RESOURCE in n.get("Resources", {}) for n in ray.nodes() if n.get("Alive"))
        options: dict[str, Any] = dict(name=name, get_if_exists=True, num_cpus=0, max_concurrency=4096)
        if has_head:
            options["resources"] = {HEAD_NODE_RESOURCE: 0.001}
        return ActorHandle(ray.remote(cls).options(**options).remote(*args), remote=True)
    obj = _LOCAL.get(name)
    if obj is None:
        obj = _LOCAL[name] = cls(*args)
    return ActorHandle(obj, remote=False)


def existing_actor(name: str) -> ActorHandle | None:
    """The singleton if it was already created, else None."""
    if ray.is_initialized():
        try:
            return ActorHandle(ray.get_actor(name), remote=True)
        except ValueError:
            return None
    obj = _LOCAL.get(name)
    return ActorHandle(obj, remote=False) if obj is not None else None


def call_sync(handle: ActorHandle, method: str, *args: Any) -> Any:
    """A blocking call, for the trainer's synchronous hooks."""
    if handle.remote:
        return ray.get(getattr(handle.target, method).remote(*args))
    return asyncio.run(getattr(handle.target, method)(*args))


def reset_local_actors() -> None:
    """Forget process-local singletons (tests)."""
    _LOCAL.clear()
