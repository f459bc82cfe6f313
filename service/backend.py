"""Where Kairos keeps its state: in this process, or in Redis (single or Cluster).

:func:`open_backend` picks one from the settings; the composition root (:mod:`service.components`)
asks it for every part whose implementation depends on that choice, so that no other module
needs to know which store it runs on.

- :class:`MemoryBackend`: everything in process memory (tests, ``KAIROS_STORE=memory``, or
  ``kairos serve`` where no redis-server is installed); nothing is shared, nothing survives.
- :class:`RedisBackend`: everything on one Redis client, under ``KAIROS_REDIS_PREFIX``; any
  number of app processes and ``kairos worker`` processes share it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from content_pool.storage import ContentStore, MemoryContentStore, RedisContentStore
from personalization.automation.deliveries import MemoryDeliveries, RetryPolicy
from personalization.automation.memory_scheduler import MemoryScheduler
from personalization.automation.redis_deliveries import RedisDeliveries
from personalization.automation.redis_scheduler import RedisScheduler
from personalization.experiments.definitions import (
    DefinitionStore,
    MemoryDefinitions,
    RedisDefinitions,
)
from personalization.experiments.segments import (
    MemoryProfileSampler,
    ProfileSampler,
    RedisProfileSampler,
)
from personalization.profiles.reactions import ChangeFeed, MemoryChangeFeed, RedisChangeFeed
from personalization.store.memory_store import MemoryStore
from personalization.store.redis_client import connect
from personalization.store.redis_store import RedisStore
from service.ratelimit import MemoryWindowCounter, RedisWindowCounter, WindowCounter
from service.settings import Settings

Store = MemoryStore | RedisStore
Scheduler = MemoryScheduler | RedisScheduler
Deliveries = MemoryDeliveries | RedisDeliveries
Lock = Callable[[timedelta], Awaitable[bool]]
"""``acquire(ttl) -> bool``: take a named lock shared by every process for ``ttl``."""


class Backend(Protocol):
    """The parts that differ between the in-process and the Redis backend."""

    @property
    def store(self) -> Store:
        """Profiles, events, decisions, counters: the personal data store."""
        ...

    @property
    def shared(self) -> bool:
        """Whether other processes (app workers, ``kairos worker``) see the same state."""
        ...

    def content_store(self) -> ContentStore: ...

    def definitions(self) -> DefinitionStore:
        """Segment and A/B test definitions."""
        ...

    def profile_sampler(self) -> ProfileSampler: ...

    def window_counter(self) -> WindowCounter:
        """Requests per key and minute, for the rate limit."""
        ...

    def scheduler(self, *, lease: timedelta) -> Scheduler: ...

    def deliveries(self, scheduler: Scheduler, *, policy: RetryPolicy,
                   lease: timedelta) -> Deliveries:  # fmt: skip
        """The webhook deliveries of the actions ``scheduler`` publishes."""
        ...

    def change_feed(self, *, lease: timedelta) -> ChangeFeed:
        """Profiles changed by ingestion, for ``kairos worker`` to react to."""
        ...

    def lock(self, name: str) -> Lock | None:
        """A lock shared by the processes, or ``None`` when there is nobody to share with."""
        ...

    async def stored_programmes(self) -> str | bytes | None:
        """The programmes a process stored for every other one, if any."""
        ...

    async def store_programmes(self, document: str) -> None: ...

    async def aclose(self) -> None: ...


class MemoryBackend:
    """Everything in this process."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    @property
    def store(self) -> MemoryStore:
        return self._store

    @property
    def shared(self) -> bool:
        return False

    def content_store(self) -> MemoryContentStore:
        return MemoryContentStore()

    def definitions(self) -> MemoryDefinitions:
        return MemoryDefinitions()

    def profile_sampler(self) -> MemoryProfileSampler:
        return MemoryProfileSampler(self._store)

    def window_counter(self) -> MemoryWindowCounter:
        return MemoryWindowCounter()

    def scheduler(self, *, lease: timedelta) -> MemoryScheduler:
        return MemoryScheduler(self._store, lease=lease, record_ttl=self._store.profile_ttl)

    def deliveries(self, scheduler: Scheduler, *, policy: RetryPolicy,
                   lease: timedelta) -> MemoryDeliveries:  # fmt: skip
        assert isinstance(scheduler, MemoryScheduler), "the embedded store's scheduler"
        return MemoryDeliveries(scheduler, policy=policy, lease=lease)

    def change_feed(self, *, lease: timedelta) -> MemoryChangeFeed:
        return MemoryChangeFeed(lease=lease)

    def lock(self, name: str) -> None:
        return None

    async def stored_programmes(self) -> str | bytes | None:
        return None  # the process's own set is the only one

    async def store_programmes(self, document: str) -> None:
        return None

    async def aclose(self) -> None:
        await self._store.close()


class RedisBackend:
    """Everything on one Redis client (single or Cluster) under one key prefix."""

    def __init__(self, store: RedisStore, prefix: str) -> None:
        self._store = store
        self.prefix = prefix

    @property
    def store(self) -> RedisStore:
        return self._store

    @property
    def shared(self) -> bool:
        return True

    def content_store(self) -> RedisContentStore:
        return RedisContentStore(self._store.redis, prefix=self.prefix)

    def definitions(self) -> RedisDefinitions:
        return RedisDefinitions(self._store.redis, self.prefix)

    def profile_sampler(self) -> RedisProfileSampler:
        return RedisProfileSampler(self._store.redis, self.prefix)

    def window_counter(self) -> RedisWindowCounter:
        return RedisWindowCounter(self._store.redis, self.prefix)

    def scheduler(self, *, lease: timedelta) -> RedisScheduler:
        return RedisScheduler(self._store, lease=lease)

    def deliveries(self, scheduler: Scheduler, *, policy: RetryPolicy,
                   lease: timedelta) -> RedisDeliveries:  # fmt: skip
        return RedisDeliveries(self._store.redis, self._store.keys, policy=policy, lease=lease)

    def change_feed(self, *, lease: timedelta) -> RedisChangeFeed:
        return RedisChangeFeed(self._store.redis, self._store.keys, lease=lease)

    def lock(self, name: str) -> Lock:
        store = self._store

        async def acquire(ttl: timedelta) -> bool:
            return await store.try_lock(name, ttl)

        return acquire

    async def stored_programmes(self) -> str | bytes | None:
        raw: str | bytes | None = await self._store.redis.get(self._programmes_key)
        return raw

    async def store_programmes(self, document: str) -> None:
        await self._store.redis.set(self._programmes_key, document)

    @property
    def _programmes_key(self) -> str:
        return self._store.keys.shared("programmes")

    async def aclose(self) -> None:
        await self._store.close()


def open_backend(settings: Settings) -> MemoryBackend | RedisBackend:
    """The configured backend: Redis (or Redis Cluster) when a URL is set, else in-process.

    Opening connects lazily: nothing is sent to Redis until a part is used.
    """
    ttl = timedelta(days=settings.profile_ttl_days)
    if settings.redis_url is None:
        return MemoryBackend(MemoryStore(
            profile_ttl=ttl, max_events_per_profile=settings.max_events_per_profile))
    client = connect(settings.redis_url, cluster=settings.redis_cluster,
                     timeout=settings.redis_timeout_seconds)
    store = RedisStore(client, prefix=settings.redis_prefix, profile_ttl=ttl,
                       max_events_per_profile=settings.max_events_per_profile)
    return RedisBackend(store, settings.redis_prefix)
