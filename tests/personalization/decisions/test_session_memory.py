"""What a visit is about so far: remembered per session, fading, expiring, erased."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from personalization.decisions.session_memory import VisitMemory
from tests.conftest import Backend
from tests.factories import make_store

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


async def test_the_next_request_of_a_visit_gets_what_the_last_was_read_with(
    backend: Backend,
) -> None:
    memory = VisitMemory(make_store(backend))
    owner = VisitMemory.owner(None, "sess-1")
    assert await memory.recall(owner, "sess-1", NOW) == {}
    await memory.remember(owner, "sess-1", {"camping": 0.9}, NOW)
    later = NOW + timedelta(minutes=2)
    assert await memory.recall(owner, "sess-1", later) == {"camping": 0.9}
    await memory.remember(owner, "sess-1", {"camping": 0.45, "hiking": 0.8}, later)
    assert await memory.recall(owner, "sess-1", later + timedelta(minutes=1)) == {
        "camping": 0.45, "hiking": 0.8,
    }
    assert await memory.recall(owner, "sess-2", later) == {}  # another visit knows nothing


async def test_a_visit_is_forgotten_after_its_time_to_live(backend: Backend) -> None:
    memory = VisitMemory(make_store(backend), ttl=timedelta(minutes=30))
    await memory.remember("s-a", "a", {"cycling": 0.8}, NOW)
    assert await memory.recall("s-a", "a", NOW + timedelta(minutes=31)) == {}


async def test_a_known_persons_visit_is_erased_with_them(backend: Backend) -> None:
    store = make_store(backend)
    memory = VisitMemory(store)
    owner = VisitMemory.owner("cust-1", "sess-9")
    assert owner == "cust-1"
    await memory.remember(owner, "sess-9", {"climbing": 0.7}, NOW)
    await store.erase("cust-1")
    assert await memory.recall(owner, "sess-9", NOW) == {}
