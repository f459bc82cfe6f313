"""Per-key rate limits: a fixed one-minute window per API key, shared by all workers via Redis.

With the embedded store the window is counted in process. When Redis cannot be reached the limiter
lets requests through: refusing traffic because the limiter's own store is down would turn a
degraded service into an outage.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

import orjson
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from personalization.store.redis_client import RedisClient
from service.problems import PROBLEM_JSON

_INCR = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class WindowCounter(Protocol):
    async def hit(self, key: str, window: int) -> int:
        """Count one request of ``key`` in minute ``window``; returns the count so far."""
        ...


class MemoryWindowCounter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def hit(self, key: str, window: int) -> int:
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
        count = self._counts.get((key, window), 0) + 1
        self._counts[(key, window)] = count
        return count


class RedisWindowCounter:
    def __init__(self, redis: RedisClient, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def hit(self, key: str, window: int) -> int:
        try:
            reply = await self.redis.eval(_INCR, 1, f"{self.prefix}:rl:{key}:{window}", 120_000)
        except (RedisError, OSError):
            return 0  # fail open, see the module docstring
        return int(reply)


class RateLimitMiddleware:
    """429 with ``Retry-After`` once a key has made ``per_minute`` requests in this minute."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        counter: Callable[[], WindowCounter | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        self.counter = counter
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        counter = self.counter() if self.per_minute > 0 else None
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        key = headers.get(b"x-api-key")
        if counter is None or not key:
            await self.app(scope, receive, send)
            return
        now = self.clock()
        window = int(now // 60)
        digest = hashlib.sha256(key).hexdigest()[:16]  # never the key itself in a Redis key
        if await counter.hit(digest, window) <= self.per_minute:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, 60 - int(now % 60)))
        body = orjson.dumps({
            "type": "about:blank", "title": "Too many requests", "status": 429,
            "detail": f"This key has made more than {self.per_minute} requests this minute; "
                      f"retry after {retry_after} s.",
            "instance": scope.get("path", ""),
        })
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", PROBLEM_JSON.encode()), (b"retry-after", retry_after.encode()),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
