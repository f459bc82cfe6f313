"""Rate limits: a fixed one-minute window, shared by all workers via Redis.

The public site key is counted per client address (``site_per_minute``, on by default: anyone can
copy the key out of a page, so one address must not be able to use up the service); server and
admin keys are counted per key (``per_minute``, off by default). The client address is the ASGI
peer: behind a proxy, run uvicorn with ``--proxy-headers --forwarded-allow-ips``.

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
    """429 with ``Retry-After`` once a key (a site key: per address) exceeds its minute's limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        counter: Callable[[], WindowCounter | None],
        site_per_minute: int = 0,
        role_of: Callable[[bytes], str | None] = lambda key: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        self.site_per_minute = site_per_minute
        self.role_of = role_of
        self.counter = counter
        self.clock = clock

    def _limit(self, scope: Scope) -> tuple[str, int, str] | None:
        """``(counter key, limit, who)`` of this request, or ``None`` when it is not limited."""
        if scope["type"] != "http" or (self.per_minute <= 0 and self.site_per_minute <= 0):
            return None
        key = dict(scope.get("headers") or []).get(b"x-api-key")
        if not key:
            return None
        digest = hashlib.sha256(key).hexdigest()[:16]  # never the key itself in a Redis key
        if self.role_of(key) == "site":
            if self.site_per_minute <= 0:
                return None
            client = scope.get("client")
            address = client[0] if client else "unknown"
            where = hashlib.sha256(address.encode()).hexdigest()[:16]
            return f"{digest}:{where}", self.site_per_minute, "This address"
        return (digest, self.per_minute, "This key") if self.per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit(scope)
        counter = self.counter() if limit is not None else None
        if limit is None or counter is None:
            await self.app(scope, receive, send)
            return
        key, per_minute, who = limit
        now = self.clock()
        window = int(now // 60)
        if await counter.hit(key, window) <= per_minute:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, 60 - int(now % 60)))
        body = orjson.dumps({
            "type": "about:blank", "title": "Too many requests", "status": 429,
            "detail": f"{who} has made more than {per_minute} requests this minute; "
                      f"retry after {retry_after} s.",
            "instance": scope.get("path", ""),
        })
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", PROBLEM_JSON.encode()), (b"retry-after", retry_after.encode()),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
