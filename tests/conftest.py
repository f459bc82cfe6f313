"""Shared fixtures: real Redis servers for the session and a ``backend`` per store contract test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from tests.redis_servers import RedisProcess, cluster_redis, single_redis, start_redis

BACKENDS = ["memory", "redis", "redis-cluster"]
ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    # Apps built in tests use the small deterministic encoder (tests that need the real model
    # say so); its trained model is cached per training-data hash, so it is trained once.
    os.environ.setdefault("KAIROS_INTENT_ENCODER", "hashing")
    os.environ.setdefault("KAIROS_INTENT_MODEL_DIR", str(ROOT / ".cache" / "intent-models-hashing"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real single Redis (the machine's, or one started for this session)."""
    with single_redis() as url:
        yield url


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """URL of one node of a real 3-master Redis Cluster started for this session."""
    with cluster_redis() as url:
        yield url


@dataclass
class Backend:
    """What a contract test builds its store from: no client for ``memory``, else a real one."""

    kind: str
    redis: aioredis.Redis | RedisCluster | None
    prefix: str


async def _delete_prefix(client: aioredis.Redis | RedisCluster, prefix: str) -> None:
    if isinstance(client, RedisCluster):
        for node in client.get_primaries():
            keys = [k async for k in client.scan_iter(match=f"{prefix}:*", target_nodes=node)]
            for key in keys:
                await client.delete(key)
    else:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def cluster_client(redis_cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_cluster_url)
    await client.initialize()
    yield client
    await client.aclose()


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """A store backend: in-process, a real Redis, or a real Redis Cluster (never skipped)."""
    prefix = f"kt{uuid.uuid4().hex[:10]}"
    if request.param == "memory":
        yield Backend("memory", None, prefix)
        return
    client: aioredis.Redis | RedisCluster
    if request.param == "redis":
        client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    else:
        client = RedisCluster.from_url(request.getfixturevalue("redis_cluster_url"))
        await client.initialize()
    try:
        yield Backend(request.param, client, prefix)
    finally:
        await _delete_prefix(client, prefix)
        await client.aclose()


@pytest.fixture
def disposable_redis() -> Iterator[RedisProcess]:
    """A Redis of this test's own, which the test may stop and restart (fault tests)."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
