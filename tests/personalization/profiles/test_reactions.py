"""Reactions through the change feed, on every backend: ingestion only appends, the listeners
hear each change once and in order, a dead consumer's changes come back, erasure leaves none."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from personalization.clock import FrozenClock
from personalization.errors import StoreUnavailable
from personalization.profiles.events import Event
from personalization.profiles.lifecycle import Stage
from personalization.profiles.profile import Profile, Transition
from personalization.profiles.reactions import (
    ChangeFeed,
    MemoryChangeFeed,
    Reactions,
    RedisChangeFeed,
)
from personalization.profiles.service import ProfileService
from personalization.store.keys import Keys
from tests.conftest import Backend
from tests.factories import keys_mentioning, make_store
from tests.personalization.profile_factories import T0, make_event, purchase
from tests.redis_servers import free_port


class Recorder:
    """A listener that remembers what it heard, and can be made to fail."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, list[str], list[Stage], int]] = []
        self.fail_with: BaseException | None = None

    async def on_events(self, profile: Profile, events: Sequence[Event],
                        transitions: Sequence[Transition]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.heard.append((profile.profile_id, [e.event_id for e in events],
                           [t.to_stage for t in transitions], profile.event_count))


class Clock:
    """A monotonic clock for the in-process feed's lease."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_feed(backend: Backend, lease: timedelta, clock: Clock) -> ChangeFeed:
    if backend.redis is None:
        return MemoryChangeFeed(lease=lease, monotonic=clock)
    return RedisChangeFeed(backend.redis, Keys(backend.prefix), lease=lease)


def make(backend: Backend, lease: timedelta = timedelta(seconds=60)
         ) -> tuple[ProfileService, ChangeFeed, Recorder, Clock]:  # fmt: skip
    clock = Clock()
    feed = make_feed(backend, lease, clock)
    service = ProfileService(make_store(backend), clock=FrozenClock(T0), changes=feed)
    recorder = Recorder()
    service.add_listener(recorder)
    return service, feed, recorder, clock


async def test_ingestion_appends_changes_and_the_listeners_hear_them_from_the_feed(
        backend: Backend) -> None:
    service, feed, recorder, _ = make(backend)
    first = [make_event("login", "u1"), purchase("u1", 40)]
    await service.ingest(first)
    await service.ingest([make_event("page_view", "u2", properties={"category": "tents"})])
    again = await service.ingest(first)  # repeated: stored once, no news
    assert again.duplicates == [e.event_id for e in first]
    assert recorder.heard == [] and await feed.backlog() == 2
    handled = await Reactions(service, feed, consumer="w1").drain()
    assert handled == 2 and await feed.backlog() == 0
    by_profile = {who: (ids, stages) for who, ids, stages, _ in recorder.heard}
    assert by_profile["u1"] == ([e.event_id for e in first], [Stage.new_customer])
    assert len(by_profile["u2"][0]) == 1 and len(recorder.heard) == 2
    assert await Reactions(service, feed, consumer="w1").run_once() == 0  # nothing twice


async def test_changes_of_one_profile_reach_the_listeners_in_order(backend: Backend) -> None:
    service, feed, recorder, _ = make(backend)
    events = [make_event("page_view", "u1", properties={"category": f"c{n}"}) for n in range(5)]
    for event in events:
        await service.ingest([event])
    await Reactions(service, feed, consumer="w1", batch_size=3).drain()
    assert [ids for _, ids, _, _ in recorder.heard] == [[e.event_id] for e in events]


async def test_changes_held_by_a_dead_consumer_come_back_after_the_lease(
        backend: Backend) -> None:
    lease = timedelta(milliseconds=200)
    service, feed, recorder, clock = make(backend, lease)
    await service.ingest([make_event("login", "u1")])
    held = await feed.take("dead", 10)  # taken, never acknowledged: the consumer died
    assert len(held) == 1
    assert await Reactions(service, feed, consumer="w2").run_once() == 0  # still leased
    clock.now += 1.0
    await asyncio.sleep(0.25)
    assert await Reactions(service, feed, consumer="w2").run_once() == 1
    assert [who for who, *_ in recorder.heard] == ["u1"] and await feed.backlog() == 0


@pytest.mark.parametrize("failure", [
    ConnectionError("store went away"),
    StoreUnavailable("store went away"),
    redis.exceptions.ConnectionError("Redis went away"),  # from code that talks to Redis itself
    redis.exceptions.TimeoutError("Redis too slow"),
])
async def test_a_change_stays_when_the_store_fails_during_the_reaction(
        backend: Backend, failure: Exception) -> None:
    lease = timedelta(milliseconds=100)
    service, feed, recorder, clock = make(backend, lease)
    await service.ingest([make_event("login", "u1")])
    recorder.fail_with = failure
    assert await Reactions(service, feed, consumer="w1").run_once() == 0
    assert await feed.backlog() == 1
    recorder.fail_with = None
    clock.now += 1.0
    await asyncio.sleep(0.15)
    assert await Reactions(service, feed, consumer="w1").run_once() == 1
    assert [who for who, *_ in recorder.heard] == ["u1"]


async def test_a_listener_bug_does_not_block_the_feed(backend: Backend) -> None:
    service, feed, recorder, _ = make(backend)
    await service.ingest([make_event("login", "u1")])
    recorder.fail_with = ValueError("a bug")
    assert await Reactions(service, feed, consumer="w1").run_once() == 1  # logged, dropped
    assert await feed.backlog() == 0


async def test_erasure_deletes_the_persons_waiting_changes(backend: Backend) -> None:
    service, feed, recorder, _ = make(backend)
    await service.ingest([make_event("login", "gone-1"), make_event("login", "stays-1")])
    assert await feed.backlog() == 2
    await service.erase("gone-1")
    assert await feed.backlog() == 1
    await Reactions(service, feed, consumer="w1").drain()
    assert [who for who, *_ in recorder.heard] == ["stays-1"]
    if backend.redis is not None:
        assert await keys_mentioning(backend, "gone-1") == []


async def test_two_consumers_share_the_changes_and_hear_each_once(backend: Backend) -> None:
    service, feed, recorder, _ = make(backend)
    people = [f"u{n}" for n in range(60)]
    for who in people:
        await service.ingest([make_event("login", who)])
    one = Reactions(service, feed, consumer="w1", batch_size=7)
    two = Reactions(service, feed, consumer="w2", batch_size=7)
    await asyncio.gather(one.drain(), two.drain())
    assert sorted(who for who, *_ in recorder.heard) == sorted(people)
    assert one.handled + two.handled == 60 and await feed.backlog() == 0


async def test_an_unreachable_feed_is_an_unavailable_store() -> None:
    """The append is on the request path: it must fail as the store does (a 503 to retry)."""
    client = aioredis.Redis(port=free_port(), socket_connect_timeout=0.2)
    feed = RedisChangeFeed(client, Keys("kt-unreachable"))
    with pytest.raises(StoreUnavailable):
        await feed.append([{"profile_id": "u1", "events": [], "transitions": []}])
    await client.aclose()
