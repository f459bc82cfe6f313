"""Where content items live: a small async interface with an in-process and a Redis backend.

Every :meth:`ContentStore.put` writes a new version (1, 2, 3, ...); earlier versions stay
retrievable through :meth:`ContentStore.history` and ``get(item_id, version=n)``. Archiving is
an edit like any other (``status="archived"``); :meth:`ContentStore.delete` forgets an item and
all its versions.

Redis layout (all keys share the hash tag ``{content}``, so they sit in one cluster slot and
the version bump is a single-slot Lua script; the pool of curated content is small enough for
one slot)::

    <prefix>:{content}:items             hash  item id -> JSON of the current version
    <prefix>:{content}:head              hash  item id -> current version number
    <prefix>:{content}:versions:<id>     hash  version number -> JSON of that version
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from content_pool.errors import ContentNotFound, ContentStoreUnavailable, VersionConflict
from content_pool.models import Clock, ContentDraft, ContentItem


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class ContentStore(Protocol):
    """Versioned storage of content items."""

    async def get(self, item_id: str, version: int | None = None) -> ContentItem:
        """The current item, or one of its versions. Raises :class:`ContentNotFound`."""
        ...

    async def all(self) -> list[ContentItem]:
        """The current version of every item, whatever its status, ordered by id."""
        ...

    async def put(self, draft: ContentDraft, *, expected_version: int | None = None) -> ContentItem:
        """Store ``draft`` as the next version of its id and return it.

        ``expected_version`` makes the write conditional: ``0`` means "must not exist yet",
        ``n`` means "the current version must be n". A mismatch raises :class:`VersionConflict`.
        """
        ...

    async def history(self, item_id: str) -> list[ContentItem]:
        """Every version of the item, oldest first. Raises :class:`ContentNotFound`."""
        ...

    async def delete(self, item_id: str) -> None:
        """Forget the item and all its versions. Raises :class:`ContentNotFound`."""
        ...


def _stamp(draft: ContentDraft, version: int, now: datetime) -> ContentItem:
    return ContentItem.model_validate(
        {**draft.draft().model_dump(), "version": version, "updated_at": now}
    )


class MemoryContentStore:
    """In-process :class:`ContentStore` for tests, demos and single-process runs."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._versions: dict[str, list[ContentItem]] = {}

    async def get(self, item_id: str, version: int | None = None) -> ContentItem:
        versions = self._versions.get(item_id)
        if not versions:
            raise ContentNotFound(item_id)
        if version is None:
            return versions[-1]
        if not 1 <= version <= len(versions):
            raise ContentNotFound(item_id, version)
        return versions[version - 1]

    async def all(self) -> list[ContentItem]:
        return [self._versions[key][-1] for key in sorted(self._versions)]

    async def put(self, draft: ContentDraft, *, expected_version: int | None = None) -> ContentItem:
        # no await between the read and the write: atomic within the event loop
        versions = self._versions.setdefault(draft.id, [])
        current = len(versions)
        if expected_version is not None and expected_version != current:
            if not versions:
                del self._versions[draft.id]
            raise VersionConflict(draft.id, expected_version, current)
        item = _stamp(draft, current + 1, self._clock())
        versions.append(item)
        return item

    async def history(self, item_id: str) -> list[ContentItem]:
        versions = self._versions.get(item_id)
        if not versions:
            raise ContentNotFound(item_id)
        return list(versions)

    async def delete(self, item_id: str) -> None:
        if self._versions.pop(item_id, None) is None:
            raise ContentNotFound(item_id)


# KEYS: items, head, versions:<id>   ARGV: id, expected current version, new JSON
# Returns {1, version} on success, {0, current} when the expected version did not match.
_PUT = """
local current = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if current ~= tonumber(ARGV[2]) then
  return {0, current}
end
local version = current + 1
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], version)
redis.call('HSET', KEYS[3], version, ARGV[3])
return {1, version}
"""

# KEYS: items, head, versions:<id>   ARGV: id.  Returns 1 if something was deleted.
_DELETE = """
local existed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return existed
"""


@asynccontextmanager
async def _reachable() -> AsyncIterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise ContentStoreUnavailable(f"content store (Redis) is not reachable: {exc}") from exc


class RedisContentStore:
    """:class:`ContentStore` on Redis or Redis Cluster (redis-py asyncio).

    The version is bumped in a Lua script that compares the current version with the one the
    JSON was built for, so two concurrent edits can never write the same version number; a
    lost race without ``expected_version`` is retried.
    """

    def __init__(
        self,
        redis: aioredis.Redis | RedisCluster,
        prefix: str = "kairos",
        *,
        clock: Clock = utc_now,
        max_retries: int = 20,
    ) -> None:
        assert prefix, "prefix must not be empty"
        assert max_retries >= 1, "max_retries must be at least 1"
        self._redis = redis
        self._clock = clock
        self._max_retries = max_retries
        base = f"{prefix}:{{content}}"
        self._items_key = f"{base}:items"
        self._head_key = f"{base}:head"
        self._versions_base = f"{base}:versions:"
        self._put_script = redis.register_script(_PUT)
        self._delete_script = redis.register_script(_DELETE)

    def _keys(self, item_id: str) -> list[str]:
        return [self._items_key, self._head_key, self._versions_base + item_id]

    async def get(self, item_id: str, version: int | None = None) -> ContentItem:
        key, field_ = (
            (self._items_key, item_id)
            if version is None
            else (self._versions_base + item_id, str(version))
        )
        async with _reachable():
            raw = await self._redis.hget(key, field_)
        if raw is None:
            raise ContentNotFound(item_id, version)
        return ContentItem.model_validate_json(raw)

    async def all(self) -> list[ContentItem]:
        async with _reachable():
            raw = await self._redis.hvals(self._items_key)
        items = [ContentItem.model_validate_json(value) for value in raw]
        return sorted(items, key=lambda item: item.id)

    async def put(self, draft: ContentDraft, *, expected_version: int | None = None) -> ContentItem:
        for _ in range(self._max_retries):
            async with _reachable():
                if expected_version is not None:
                    current = expected_version
                else:
                    current = int(await self._redis.hget(self._head_key, draft.id) or 0)
                item = _stamp(draft, current + 1, self._clock())
                ok, actual = await self._put_script(
                    keys=self._keys(draft.id), args=[draft.id, current, item.model_dump_json()]
                )
            if int(ok) == 1:
                return item
            if expected_version is not None:
                raise VersionConflict(draft.id, expected_version, int(actual))
        raise VersionConflict(draft.id, current, int(actual))

    async def history(self, item_id: str) -> list[ContentItem]:
        async with _reachable():
            raw = await self._redis.hgetall(self._versions_base + item_id)
        if not raw:
            raise ContentNotFound(item_id)
        ordered = sorted(raw.items(), key=lambda kv: int(kv[0]))
        return [ContentItem.model_validate_json(value) for _, value in ordered]

    async def delete(self, item_id: str) -> None:
        async with _reachable():
            deleted = await self._delete_script(keys=self._keys(item_id), args=[item_id])
        if not int(deleted):
            raise ContentNotFound(item_id)


@dataclass
class ImportSummary:
    """Which ids :func:`import_items` created, changed (new version) or left as they were."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


async def import_items(store: ContentStore, drafts: Iterable[ContentDraft]) -> ImportSummary:
    """Write each draft as a new version unless the stored item already has the same fields.

    Items in the store that are not among ``drafts`` are left alone. Validate templates first
    (:meth:`content_pool.render.Renderer.validate_all`); this function does not.
    """
    summary = ImportSummary()
    for draft in drafts:
        try:
            current = await store.get(draft.id)
        except ContentNotFound:
            await store.put(draft, expected_version=0)
            summary.created.append(draft.id)
            continue
        if current.draft() == draft.draft():
            summary.unchanged.append(draft.id)
        else:
            await store.put(draft, expected_version=current.version)
            summary.updated.append(draft.id)
    return summary
