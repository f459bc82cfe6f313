"""The ContentStore contract, on the in-process store, a real Redis and a real Redis Cluster."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from content_pool.errors import ContentNotFound, ContentStoreUnavailable, VersionConflict
from content_pool.storage import (
    ContentStore,
    MemoryContentStore,
    RedisContentStore,
    import_items,
    utc_now,
)
from tests.conftest import Backend
from tests.content_pool.factories import make_draft
from tests.factories import keys_mentioning


class StepClock:
    """A clock that moves one minute each time it is read."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def make_content_store(backend: Backend, clock: StepClock | None = None) -> ContentStore:
    now = clock or utc_now
    if backend.redis is None:
        return MemoryContentStore(clock=now)
    return RedisContentStore(backend.redis, prefix=backend.prefix, clock=now)


async def test_every_edit_is_a_new_version_and_old_ones_stay(backend: Backend) -> None:
    clock = StepClock()
    store = make_content_store(backend, clock)
    first = await store.put(make_draft(title="Sommer"))
    second = await store.put(make_draft(title="Herbst"))
    third = await store.put(make_draft(title="Winter", status="archived"))
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert first.updated_at < second.updated_at < third.updated_at

    current = await store.get("hero-test")
    assert current.title == "Winter" and current.version == 3 and current.status == "archived"
    assert (await store.get("hero-test", version=1)).title == "Sommer"
    history = await store.history("hero-test")
    assert [(i.version, i.title) for i in history] == [(1, "Sommer"), (2, "Herbst"), (3, "Winter")]
    assert history[0] == first


async def test_missing_items_and_versions(backend: Backend) -> None:
    store = make_content_store(backend)
    with pytest.raises(ContentNotFound):
        await store.get("nothing")
    with pytest.raises(ContentNotFound):
        await store.history("nothing")
    with pytest.raises(ContentNotFound):
        await store.delete("nothing")
    await store.put(make_draft())
    with pytest.raises(ContentNotFound) as caught:
        await store.get("hero-test", version=2)
    assert caught.value.version == 2
    assert isinstance(caught.value, LookupError)


async def test_expected_version_guards_against_lost_updates(backend: Backend) -> None:
    store = make_content_store(backend)
    with pytest.raises(VersionConflict):
        await store.put(make_draft(), expected_version=1)  # does not exist yet
    assert (await store.put(make_draft(), expected_version=0)).version == 1
    with pytest.raises(VersionConflict) as caught:
        await store.put(make_draft(), expected_version=0)  # exists now
    assert caught.value.actual == 1
    assert (await store.put(make_draft(title="B"), expected_version=1)).version == 2
    with pytest.raises(VersionConflict):
        await store.put(make_draft(title="stale"), expected_version=1)
    assert (await store.get("hero-test")).title == "B"
    assert len(await store.history("hero-test")) == 2


async def test_concurrent_edits_get_distinct_versions(backend: Backend) -> None:
    store = make_content_store(backend)
    results = await asyncio.gather(*(store.put(make_draft(title=f"t{i}")) for i in range(15)))
    assert sorted(r.version for r in results) == list(range(1, 16))
    history = await store.history("hero-test")
    assert [i.version for i in history] == list(range(1, 16))
    assert (await store.get("hero-test")).version == 15


async def test_all_lists_current_versions_by_id(backend: Backend) -> None:
    store = make_content_store(backend)
    await store.put(make_draft(id="b-item"))
    await store.put(make_draft(id="a-item", status="draft"))
    await store.put(make_draft(id="b-item", title="new"))
    items = await store.all()
    assert [(i.id, i.version) for i in items] == [("a-item", 1), ("b-item", 2)]
    assert items[1].title == "new"


async def test_delete_forgets_item_and_history(backend: Backend) -> None:
    store = make_content_store(backend)
    await store.put(make_draft(id="gone"))
    await store.put(make_draft(id="gone", title="again"))
    await store.put(make_draft(id="kept"))
    await store.delete("gone")
    assert [i.id for i in await store.all()] == ["kept"]
    with pytest.raises(ContentNotFound):
        await store.history("gone")
    # a new item with the same id starts over
    assert (await store.put(make_draft(id="gone"))).version == 1
    if backend.redis is not None:
        await store.delete("gone")
        await store.delete("kept")
        assert await keys_mentioning(backend, "content") == []


async def test_redis_keys_share_one_hash_tag(
    redis_client: aioredis.Redis, cluster_client: RedisCluster
) -> None:
    for kind, client in (("redis", redis_client), ("redis-cluster", cluster_client)):
        backend = Backend(kind, client, f"kt{uuid.uuid4().hex[:10]}")
        store = make_content_store(backend)
        await store.put(make_draft(id="one"))
        await store.put(make_draft(id="two"))
        keys = await keys_mentioning(backend, "")
        try:
            assert len(keys) == 4, kind  # items, head and one versions hash per item
            assert all(key.startswith(f"{backend.prefix}:{{content}}:") for key in keys), keys
        finally:
            await store.delete("one")
            await store.delete("two")
        assert await keys_mentioning(backend, "") == []


async def test_import_items_writes_only_changes(backend: Backend) -> None:
    store = make_content_store(backend)
    first = await import_items(store, [make_draft(id="a"), make_draft(id="b")])
    assert (first.created, first.updated, first.unchanged) == (["a", "b"], [], [])
    second = await import_items(store, [make_draft(id="a"), make_draft(id="b", title="changed")])
    assert (second.created, second.updated, second.unchanged) == ([], ["b"], ["a"])
    assert (await store.get("a")).version == 1
    assert (await store.get("b")).version == 2


async def test_unreachable_redis_is_a_content_error() -> None:
    client = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    store = RedisContentStore(client, prefix="unreachable")
    try:
        for call in (store.all(), store.get("x"), store.put(make_draft())):
            with pytest.raises(ContentStoreUnavailable):
                await call
    finally:
        await client.aclose()
