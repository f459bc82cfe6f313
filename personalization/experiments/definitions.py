"""Named definitions marketers edit (segments, A/B tests), shared by every worker.

A :class:`DefinitionStore` keeps JSON documents by ``kind`` and ``name``. The in-process
:class:`MemoryDefinitions` is for tests and single-process runs; :class:`RedisDefinitions` keeps
each kind in one hash ``<prefix>:defs:<kind>`` (one key, so one Redis Cluster slot; these are a
few hundred small documents, not per-person data).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from personalization.errors import StoreUnavailable
from personalization.store.protocols import Document
from personalization.store.redis_client import RedisClient


@asynccontextmanager
async def _reachable() -> AsyncIterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailable(f"Redis is not reachable: {exc}") from exc


class DefinitionStore(Protocol):
    """Documents by kind and name. Raises ``StoreUnavailable`` when the store cannot be reached."""

    async def get_definition(self, kind: str, name: str) -> Document | None: ...

    async def put_definition(self, kind: str, name: str, document: Document) -> None: ...

    async def delete_definition(self, kind: str, name: str) -> bool:
        """``True`` when something was deleted."""
        ...

    async def all_definitions(self, kind: str) -> dict[str, Document]: ...


class MemoryDefinitions:
    """:class:`DefinitionStore` in process memory."""

    def __init__(self) -> None:
        self._kinds: dict[str, dict[str, Document]] = {}

    async def get_definition(self, kind: str, name: str) -> Document | None:
        found = self._kinds.get(kind, {}).get(name)
        return copy.deepcopy(found) if found is not None else None

    async def put_definition(self, kind: str, name: str, document: Document) -> None:
        self._kinds.setdefault(kind, {})[name] = copy.deepcopy(document)

    async def delete_definition(self, kind: str, name: str) -> bool:
        return self._kinds.get(kind, {}).pop(name, None) is not None

    async def all_definitions(self, kind: str) -> dict[str, Document]:
        return copy.deepcopy(self._kinds.get(kind, {}))


class RedisDefinitions:
    """:class:`DefinitionStore` in Redis or Redis Cluster, one hash per kind."""

    def __init__(self, redis: RedisClient, prefix: str = "kairos") -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, kind: str) -> str:
        return f"{self.prefix}:defs:{kind}"

    async def get_definition(self, kind: str, name: str) -> Document | None:
        async with _reachable():
            raw = await self.redis.hget(self._key(kind), name)
        return orjson.loads(raw) if raw is not None else None

    async def put_definition(self, kind: str, name: str, document: Document) -> None:
        async with _reachable():
            await self.redis.hset(self._key(kind), name, orjson.dumps(document, default=str))

    async def delete_definition(self, kind: str, name: str) -> bool:
        async with _reachable():
            return bool(await self.redis.hdel(self._key(kind), name))

    async def all_definitions(self, kind: str) -> dict[str, Document]:
        async with _reachable():
            raw = await self.redis.hgetall(self._key(kind))
        return {
            (k.decode() if isinstance(k, bytes) else k): orjson.loads(v) for k, v in raw.items()
        }
