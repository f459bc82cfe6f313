"""The test session really runs its three backends: a real Redis and a real 3-master cluster."""

from __future__ import annotations

from redis.asyncio.cluster import RedisCluster

from tests.conftest import Backend


async def test_backend_is_real(backend: Backend) -> None:
    if backend.redis is None:
        assert backend.kind == "memory"
        return
    key = f"{backend.prefix}:probe"
    await backend.redis.set(key, "1")
    assert await backend.redis.get(key) == b"1"
    if backend.kind == "redis-cluster":
        assert isinstance(backend.redis, RedisCluster)
        assert len(backend.redis.get_primaries()) == 3
