"""The Redis store when Redis goes away and comes back: a clear error, then recovery."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from personalization.errors import StoreUnavailable
from personalization.store.protocols import Document
from personalization.store.redis_client import connect
from personalization.store.redis_store import RedisStore
from tests.redis_servers import RedisProcess


def count(profile: Document | None, events: Sequence[Document]) -> Document:
    return {"n": (profile or {"n": 0})["n"] + len(events)}


async def test_unreachable_redis_raises_store_unavailable_then_recovers(
    disposable_redis: RedisProcess,
) -> None:
    store = RedisStore(connect(disposable_redis.url, timeout=0.5), prefix="faults")
    await store.apply([("ana", [{"event_id": "e1"}])], count)

    disposable_redis.stop()
    with pytest.raises(StoreUnavailable, match="not reachable"):
        await store.apply([("ana", [{"event_id": "e2"}])], count)
    with pytest.raises(StoreUnavailable):
        await store.get("ana")
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.incr("arm", {"n": 1})
    with pytest.raises(StoreUnavailable):
        await store.put_decision("d", {}, profile_id=None, ttl=timedelta(minutes=1))

    disposable_redis.restart()  # same port, empty (no persistence in tests)
    await store.ping()
    [result] = await store.apply([("ana", [{"event_id": "e2"}])], count)
    assert result.applied == ["e2"]
    assert await store.get("ana") == {"n": 1}
    await store.close()
