"""Connecting to Redis (single or Cluster), and what every Redis-backed module shares.

:func:`connect` builds the client; :func:`reachable` turns connection errors into
:class:`~personalization.errors.StoreUnavailable`; :func:`stream_ids_where` finds a person's
entries in a shared stream (for erasure).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from personalization.errors import StoreUnavailable

RedisClient = aioredis.Redis | RedisCluster


def connect(
    url: str, *, cluster: bool = False, timeout: float = 2.0, max_connections: int = 64
) -> RedisClient:
    """A client for ``url``; with ``cluster`` a Redis Cluster client that follows slot moves.

    A command that meets a dropped connection (Redis restarted, a failover) is sent once more
    on a fresh one. That is safe for Kairos' writes: profile updates are compare-and-set (a
    repeated one loses its race and is re-read), event ids are idempotent.
    """
    if cluster:
        return RedisCluster.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                     max_connections=max_connections)
    # A burst (a batch of events fans out to one listener per profile) waits up to ``timeout``
    # for a free connection instead of failing with "Too many connections".
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=timeout, socket_timeout=timeout,
        socket_connect_timeout=timeout, health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.005), retries=1),
        retry_on_error=[RedisConnectionError],
    )
    return aioredis.Redis(connection_pool=pool)


@asynccontextmanager
async def reachable() -> AsyncIterator[None]:
    """Redis connection errors and timeouts inside the block become :class:`StoreUnavailable`."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError) as exc:
        raise StoreUnavailable(f"Redis is not reachable: {exc}") from exc


async def stream_ids_where(redis: Any, key: str, field: str, value: str) -> list[str]:
    """Ids of the entries of stream ``key`` whose ``field`` is ``value``, read in pages of 1,000
    (for erasure: streams shared by everyone hold entries that name a person)."""
    found: list[str] = []
    start, name, wanted = "-", field.encode(), value.encode()
    while True:
        entries: Any = await redis.xrange(key, min=start, count=1000)
        found += [as_text(entry_id) for entry_id, fields in entries if fields.get(name) == wanted]
        if len(entries) < 1000:
            return found
        start = "(" + as_text(entries[-1][0])


def as_text(value: bytes | str) -> str:
    """A Redis reply (bytes, or str on a decoding client) as str."""
    return value.decode() if isinstance(value, bytes) else value
