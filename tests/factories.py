"""Plain factory functions for tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from personalization.store.memory_store import MemoryStore
from personalization.store.redis_store import RedisStore
from tests.conftest import Backend


def make_store(backend: Backend, **options: Any) -> MemoryStore | RedisStore:
    """The store of ``backend``: in-process, or Redis / Redis Cluster under the test's prefix."""
    options.setdefault("profile_ttl", timedelta(days=30))
    if backend.redis is None:
        return MemoryStore(**options)
    options.pop("clock", None)
    return RedisStore(backend.redis, prefix=backend.prefix, **options)


async def keys_mentioning(backend: Backend, text: str) -> list[str]:
    """Every Redis key of the test's namespace whose name contains ``text`` (all cluster nodes)."""
    from redis.asyncio.cluster import RedisCluster

    assert backend.redis is not None
    found: list[str] = []
    match = f"{backend.prefix}:*"
    if isinstance(backend.redis, RedisCluster):
        for node in backend.redis.get_primaries():
            async for key in backend.redis.scan_iter(match=match, target_nodes=node):
                found.append(key.decode())
    else:
        async for key in backend.redis.scan_iter(match=match):
            found.append(key.decode())
    return [key for key in found if text in key]


def drop_prefix(conn: Any, prefix: str) -> None:
    """Delete every key of ``prefix`` through a synchronous client (single Redis or Cluster), so
    a test leaves the machine's Redis as it found it."""
    from redis.cluster import RedisCluster

    if isinstance(conn, RedisCluster):
        for node in conn.get_primaries():
            for key in list(conn.scan_iter(match=f"{prefix}:*", target_nodes=node)):
                conn.delete(key)
        return
    keys = list(conn.scan_iter(match=f"{prefix}:*"))
    for start in range(0, len(keys), 500):
        conn.delete(*keys[start : start + 500])
