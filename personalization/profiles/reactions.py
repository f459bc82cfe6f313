"""Reactions to stored events, run apart from ingestion: the change feed and its consumer.

Storing an event and reacting to it are two jobs. Storing is what a caller of ``/v1/events``
waits for; reacting (automation programmes, A/B goals, calendar schedules: the profile service's
listeners) can follow a moment later, and costs as much again. With a change feed the profile
service answers once the events and the profile are stored and has appended one *change* per
changed profile to the feed: the events newly applied and the lifecycle transitions they caused.
:class:`Reactions` (run by ``kairos worker``, or by the app's in-app worker) takes changes from
the feed and passes them to the listeners::

    feed = RedisChangeFeed(store.redis, store.keys)  # or MemoryChangeFeed() in process
    profiles = ProfileService(store, changes=feed)     # ingest appends changes
    profiles.add_listener(automation)                   # ... the same listeners as inline
    reactions = Reactions(profiles, feed, consumer="worker-1")
    await reactions.run_once()                          # in a loop: take, react, acknowledge

Delivery is at least once. A change is removed from the feed only after its listeners ran; a
consumer that dies holding changes loses nothing: after ``lease`` another consumer takes them
over. Listeners therefore see a change twice in that rare case (automation restarts a programme
it had just started, which leaves one pending run). Changes of one profile are handed to the
listeners in order; different profiles react concurrently.

The feed is not trimmed by length: a change is deleted when it is acknowledged, so the feed holds
only what waits (:meth:`ChangeFeed.backlog`); with Redis and no worker running it grows. Erasure
deletes the person's waiting changes (:meth:`ChangeFeed.forget`).

Redis: one stream ``<prefix>:changes`` with the consumer group ``reactions`` (entries
``p`` = profile id, ``d`` = the change as JSON). In process: a list with the same semantics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import timedelta
from itertools import count
from typing import Any, Protocol

import orjson
from redis.exceptions import ResponseError

from personalization.errors import STORE_ERRORS
from personalization.store.keys import Keys
from personalization.store.protocols import Document
from personalization.store.redis_client import reachable, stream_ids_where

log = logging.getLogger("kairos.reactions")

GROUP = "reactions"


class ChangeFeed(Protocol):
    """Where the profile service leaves changes for the listeners (see the module docstring)."""

    async def append(self, changes: Sequence[Document]) -> None:
        """Append changes (each with ``profile_id``), durably, in one round trip."""
        ...

    async def take(self, consumer: str, count: int) -> list[tuple[str, Document]]:
        """Up to ``count`` changes for ``consumer``: first those another consumer held longer
        than the lease, then new ones; oldest first. Each stays held until :meth:`done`."""
        ...

    async def done(self, ids: Sequence[str]) -> None:
        """Acknowledge and delete handled changes."""
        ...

    async def backlog(self) -> int:
        """Changes waiting or held (not yet acknowledged)."""
        ...

    async def forget(self, profile_id: str) -> None:
        """Delete every waiting change of the person (erasure)."""
        ...


class MemoryChangeFeed:
    """The change feed in process memory (the embedded store's)."""

    def __init__(self, *, lease: timedelta = timedelta(seconds=60),
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.lease = lease
        self._monotonic = monotonic
        self._ids = count(1)
        self._entries: OrderedDict[str, Document] = OrderedDict()
        self._held: dict[str, tuple[str, float]] = {}  # id -> (consumer, since)

    async def append(self, changes: Sequence[Document]) -> None:
        for change in changes:
            self._entries[f"{next(self._ids)}-0"] = dict(change)

    async def take(self, consumer: str, count: int) -> list[tuple[str, Document]]:
        now, lease = self._monotonic(), self.lease.total_seconds()
        stale = [i for i, (_, since) in self._held.items() if now - since >= lease]
        fresh = [i for i in self._entries if i not in self._held]
        chosen = (stale + fresh)[:count]
        for entry_id in chosen:
            self._held[entry_id] = (consumer, now)
        return [(i, self._entries[i]) for i in chosen]

    async def done(self, ids: Sequence[str]) -> None:
        for entry_id in ids:
            self._entries.pop(entry_id, None)
            self._held.pop(entry_id, None)

    async def backlog(self) -> int:
        return len(self._entries)

    async def forget(self, profile_id: str) -> None:
        await self.done([i for i, c in self._entries.items() if c.get("profile_id") == profile_id])


class RedisChangeFeed:
    """The change feed as a Redis Stream with one consumer group (works on Redis Cluster: one
    key, so every command of a round trip goes to the same node)."""

    def __init__(self, redis: Any, keys: Keys, *, lease: timedelta = timedelta(seconds=60),
                 group: str = GROUP) -> None:  # fmt: skip
        self.redis = redis
        self.key = keys.shared("changes")
        self.group = group
        self.lease = lease
        self._group_ready = False

    async def append(self, changes: Sequence[Document]) -> None:
        if not changes:
            return
        pipe = self.redis.pipeline(transaction=False)
        for change in changes:
            pipe.xadd(self.key, {"p": str(change["profile_id"]), "d": orjson.dumps(change)})
        async with reachable():  # on the request path: a 503 the caller may retry, like the store
            await pipe.execute()

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:  # from the start of the stream: changes appended before any worker ran count too
            await self.redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def take(self, consumer: str, count: int) -> list[tuple[str, Document]]:
        await self._ensure_group()
        idle_ms = int(self.lease.total_seconds() * 1000)
        claimed: Any = await self.redis.xautoclaim(
            self.key, self.group, consumer, min_idle_time=idle_ms, start_id="0-0", count=count)
        entries: list[Any] = list(claimed[1]) if claimed else []
        if len(entries) < count:
            answer: Any = await self.redis.xreadgroup(
                self.group, consumer, {self.key: ">"}, count=count - len(entries))
            for _stream, rows in answer or []:  # [[stream, [(id, fields), ...]]]
                entries.extend(rows)
        stubs = [_text(entry_id) for entry_id, fields in entries if not fields]
        if stubs:  # deleted while held (erasure): acknowledge them, nothing to react to
            await self.done(stubs)
        return [(_text(entry_id), orjson.loads(fields[b"d"])) for entry_id, fields in entries
                if fields]

    async def done(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.key, self.group, *ids)
        pipe.xdel(self.key, *ids)
        await pipe.execute()

    async def backlog(self) -> int:
        return int(await self.redis.xlen(self.key))

    async def forget(self, profile_id: str) -> None:
        # The feed holds only what waits: erasure reads it whole.
        found = await stream_ids_where(self.redis, self.key, "p", profile_id)
        if found:
            await self._ensure_group()
            await self.done(found)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Reacting(Protocol):
    """What :class:`Reactions` needs of the profile service."""

    async def react(self, change: Document) -> None: ...


class Reactions:
    """Takes changes from the feed and hands them to the profile service's listeners."""

    def __init__(self, profiles: Reacting, feed: ChangeFeed, *, consumer: str,
                 batch_size: int = 200) -> None:  # fmt: skip
        assert batch_size >= 1, "batch_size must be at least 1"
        self.profiles = profiles
        self.feed = feed
        self.consumer = consumer
        self.batch_size = batch_size
        self.handled = 0

    async def run_once(self) -> int:
        """Take one batch, react, acknowledge; returns how many changes were handled.

        A change whose reaction failed because the store was unreachable is not acknowledged:
        it comes back after the lease.
        """
        taken = await self.feed.take(self.consumer, self.batch_size)
        if not taken:
            return 0
        by_profile: dict[str, list[tuple[str, Document]]] = {}
        for entry_id, change in taken:
            by_profile.setdefault(str(change.get("profile_id")), []).append((entry_id, change))
        results = await asyncio.gather(*(self._react_in_order(changes)
                                         for changes in by_profile.values()))
        handled = [entry_id for ids in results for entry_id in ids]
        await self.feed.done(handled)
        self.handled += len(handled)
        return len(handled)

    async def _react_in_order(self, changes: list[tuple[str, Document]]) -> list[str]:
        handled: list[str] = []
        for entry_id, change in changes:
            try:
                await self.profiles.react(change)
            except STORE_ERRORS as exc:
                # The store went away: keep this change and the later ones of the profile.
                log.warning("reaction postponed", extra={"profile_id": change.get("profile_id"),
                                                         "error": str(exc)})
                break
            except Exception:  # a change no listener can take must not block the feed
                log.exception("change dropped", extra={"profile_id": change.get("profile_id")})
            handled.append(entry_id)
        return handled

    async def drain(self) -> int:
        """Run batches until the feed gives nothing; returns the number handled."""
        total = 0
        while True:
            n = await self.run_once()
            if n == 0:
                break
            total += n
        return total
