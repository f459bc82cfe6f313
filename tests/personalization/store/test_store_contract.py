"""The store contract, run against the in-process store, a real Redis and a real Redis Cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest

from personalization.store.protocols import Document
from tests.conftest import Backend
from tests.factories import keys_mentioning, make_store


def count_events(profile: Document | None, events: Sequence[Document]) -> Document:
    """A reducer that counts events and sums their values: easy to check for lost updates."""
    profile = dict(profile or {"count": 0, "total": 0})
    profile["count"] += len(events)
    profile["total"] += sum(e.get("value", 0) for e in events)
    return profile


def event(event_id: str, value: int = 1) -> Document:
    return {"event_id": event_id, "type": "custom", "value": value}


async def test_apply_creates_profile_and_appends_events(backend: Backend) -> None:
    store = make_store(backend)
    [result] = await store.apply([("ana", [event("e1", 2), event("e2", 3)])], count_events)
    assert result.applied == ["e1", "e2"] and result.duplicates == []
    assert await store.get("ana") == {"count": 2, "total": 5}
    assert [e["event_id"] for e in await store.events("ana")] == ["e1", "e2"]
    assert await store.get("nobody") is None


async def test_repeated_event_ids_are_applied_once(backend: Backend) -> None:
    store = make_store(backend)
    await store.apply([("ana", [event("e1")])], count_events)
    [again] = await store.apply([("ana", [event("e1"), event("e2"), event("e2")])], count_events)
    assert again.applied == ["e2"]
    assert again.duplicates == ["e1", "e2"]
    assert await store.get("ana") == {"count": 2, "total": 2}
    assert len(await store.events("ana")) == 2


async def test_reducer_returning_none_writes_nothing(backend: Backend) -> None:
    store = make_store(backend)
    [result] = await store.apply([("ghost", [event("e1")])], lambda current, events: None)
    assert result.profile is None and result.applied == []
    assert await store.get("ghost") is None
    assert await store.events("ghost") == []


async def test_event_stream_is_bounded_per_profile(backend: Backend) -> None:
    store = make_store(backend, max_events_per_profile=5)
    for i in range(12):
        await store.apply([("ana", [event(f"e{i}")])], count_events)
    kept = await store.events("ana")
    assert [e["event_id"] for e in kept] == [f"e{i}" for i in range(7, 12)]
    assert (await store.get("ana") or {})["count"] == 12


async def test_batch_spanning_profiles(backend: Backend) -> None:
    store = make_store(backend)
    batch = [(f"p{i}", [event(f"p{i}-a"), event(f"p{i}-b", 10)]) for i in range(40)]
    results = await store.apply(batch, count_events)
    assert [r.profile_id for r in results] == [f"p{i}" for i in range(40)]
    for i in range(40):
        assert await store.get(f"p{i}") == {"count": 2, "total": 11}


async def test_fifty_concurrent_writers_lose_no_update(backend: Backend) -> None:
    store = make_store(backend)

    async def writer(n: int) -> None:
        for k in range(4):
            await store.apply([("hot", [event(f"w{n}-{k}", n)])], count_events)

    await asyncio.gather(*(writer(n) for n in range(50)))
    profile = await store.get("hot")
    assert profile == {"count": 200, "total": 4 * sum(range(50))}


async def test_erase_removes_everything_about_the_person(backend: Backend) -> None:
    store = make_store(backend)
    await store.apply([("ana", [event("e1")])], count_events)
    await store.put_decision("d-1", {"profile_id": "ana", "items": ["x"]}, profile_id="ana",
                             ttl=timedelta(hours=1))
    await store.incr_personal("ana", "caps", {"item-1:2026-11-22": 1}, ttl=timedelta(days=7))
    await store.put_record("ana", "actions", "a1", {"type": "welcome"}, ttl=timedelta(days=7))
    await store.apply([("bob", [event("b1")])], count_events)

    assert await store.erase("ana") is True
    assert await store.get("ana") is None
    assert await store.events("ana") == []
    assert await store.get_decision("d-1") is None
    assert await store.get_records("ana", "actions") == {}
    assert await store.get_personal_counters("ana", "caps") == {}
    assert await store.get("bob") is not None
    assert await store.erase("ana") is False
    if backend.redis is not None:
        assert await keys_mentioning(backend, "ana") == []


async def test_decision_log(backend: Backend) -> None:
    store = make_store(backend)
    record = {"decision_id": "d-1", "profile_id": "ana", "propensity": 0.4, "item": "x"}
    await store.put_decision("d-1", record, profile_id="ana", ttl=timedelta(hours=1))
    assert await store.get_decision("d-1") == record
    assert await store.get_decision("d-unknown") is None
    [logged] = await store.recent_decisions(limit=10)
    assert logged == {"decision_id": "d-1", "propensity": 0.4, "item": "x"}


async def test_decisions_of_a_person(backend: Backend) -> None:
    store = make_store(backend)
    for decision_id, person in (("d-1", "ana"), ("d-2", "ana"), ("d-3", "bob")):
        await store.put_decision(decision_id, {"decision_id": decision_id, "profile_id": person},
                                 profile_id=person, ttl=timedelta(hours=1))
    await store.put_decision("d-4", {"decision_id": "d-4"}, profile_id=None,
                             ttl=timedelta(hours=1))
    found = await store.decisions_of("ana")
    assert sorted(d["decision_id"] for d in found) == ["d-1", "d-2"]
    assert await store.decisions_of("nobody") == []


async def test_counters_are_shared_and_additive(backend: Backend) -> None:
    store = make_store(backend)
    bump = {"n": 1, "reward": 0.5}
    await asyncio.gather(*(store.incr("arm:x:consider", bump) for _ in range(30)))
    await store.incr("arm:y:consider", {"n": 2})
    assert await store.get_many(["arm:x:consider", "arm:y:consider", "arm:z"]) == [
        {"n": 30.0, "reward": 15.0},
        {"n": 2.0},
        {},
    ]
    assert set(await store.scan_counters("arm:*:consider")) == {"arm:x:consider", "arm:y:consider"}
    await store.incr_many([("arm:x:consider", {"n": 2}), ("arm:z", {"n": 1, "reward": 1})])
    assert await store.get_many(["arm:x:consider", "arm:z"]) == [
        {"n": 32.0, "reward": 15.0}, {"n": 1.0, "reward": 1.0}]


async def test_personal_records(backend: Backend) -> None:
    store = make_store(backend)
    assert await store.incr_personal("ana", "caps", {"i1": 1}, ttl=timedelta(days=1)) == {"i1": 1}
    assert await store.incr_personal("ana", "caps", {"i1": 2, "i2": 1}, ttl=timedelta(days=1)) == {
        "i1": 3.0, "i2": 1.0}
    await store.put_record("ana", "conversation", "s1", {"last": ["track_order"]},
                           ttl=timedelta(hours=1))
    assert await store.get_records("ana", "conversation") == {"s1": {"last": ["track_order"]}}
    await store.delete_record("ana", "conversation", "s1")
    assert await store.get_records("ana", "conversation") == {}


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_memory_profiles_expire_after_inactivity(backend: Backend) -> None:
    from datetime import UTC, datetime

    from personalization.clock import FrozenClock

    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = make_store(backend, clock=clock, profile_ttl=timedelta(days=30))
    await store.apply([("ana", [event("e1")])], count_events)
    clock.advance(days=29)
    assert await store.get("ana") is not None
    clock.advance(days=2)
    assert await store.get("ana") is None


async def test_scan_profile_ids_finds_every_profile(backend: Backend) -> None:
    store = make_store(backend)
    people = {f"scan-{i}" for i in range(25)} | {"a:b@c.example"}
    await store.apply([(p, [event(f"{p}-e")]) for p in people], count_events)
    assert {p async for p in store.scan_profile_ids()} == people
