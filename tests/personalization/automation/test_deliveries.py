"""The delivery queue on every backend: each published action is delivered at least once, failures
come back after a jittered exponential backoff, the hopeless are parked with the reason and can be
replayed, a dead consumer's deliveries come back after the lease, and erasure forgets a person."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from personalization.automation.action_record import ActionRecord
from personalization.automation.deliveries import (
    Delivery,
    DeliveryCounts,
    MemoryDeliveries,
    RetryPolicy,
)
from personalization.automation.memory_scheduler import MemoryScheduler
from personalization.automation.redis_deliveries import RedisDeliveries
from personalization.automation.redis_scheduler import RedisScheduler
from personalization.store.keys import Keys
from personalization.store.redis_store import RedisStore
from tests.conftest import Backend
from tests.factories import keys_mentioning, make_store
from tests.personalization.automation.test_scheduler import make_record

POLICY = RetryPolicy(max_tries=3, backoff=10.0, max_backoff=60.0)


@dataclass
class Queue:
    scheduler: MemoryScheduler | RedisScheduler
    deliveries: MemoryDeliveries | RedisDeliveries

    async def publish(self, *profile_ids: str, now: datetime) -> list[ActionRecord]:
        records = [make_record(p, now) for p in profile_ids]
        await self.scheduler.schedule(records)
        return await self.scheduler.publish(await self.scheduler.claim(now, 1000), now)


def make_queue(backend: Backend, lease: timedelta, policy: RetryPolicy = POLICY) -> Queue:
    store = make_store(backend)
    rng = random.Random(7)
    if backend.redis is None:
        scheduler = MemoryScheduler(store)
        return Queue(scheduler, MemoryDeliveries(scheduler, policy=policy, lease=lease, rng=rng))
    assert isinstance(store, RedisStore)
    return Queue(RedisScheduler(store), RedisDeliveries(backend.redis, Keys(backend.prefix),
                                                        policy=policy, lease=lease, rng=rng))


@pytest.fixture
async def queue(backend: Backend) -> AsyncIterator[Queue]:
    q = make_queue(backend, timedelta(seconds=30))
    await q.deliveries.open()
    yield q


def now() -> datetime:
    # The real time: Redis measures a consumer's idle time (the lease) on its own clock.
    return datetime.now(UTC)


async def test_each_published_action_is_taken_once_with_its_body_and_attempt(queue: Queue) -> None:
    t = now()
    published = await queue.publish("a", "b", "c", now=t)
    first = await queue.deliveries.take("w1", 2, t)
    second = await queue.deliveries.take("w2", 10, t)
    assert await queue.deliveries.take("w3", 10, t) == []  # nobody else gets them meanwhile
    taken = first + second
    assert sorted(d.action_id for d in taken) == sorted(r.action_id for r in published)
    assert {d.attempt for d in taken} == {1}
    by_id = {r.action_id: r for r in published}
    for delivery in taken:
        assert orjson.loads(delivery.body())["action_id"] == delivery.action_id
        assert delivery.profile_id == by_id[delivery.action_id].profile_id
    assert await queue.deliveries.counts() == DeliveryCounts(3, 0, 0)
    assert all([await queue.deliveries.delivered(d) for d in taken])
    assert await queue.deliveries.counts() == DeliveryCounts(0, 0, 0)
    assert await queue.deliveries.take("w1", 10, t + timedelta(hours=1)) == []


async def test_actions_published_before_the_queue_opened_are_not_sent(backend: Backend) -> None:
    q = make_queue(backend, timedelta(seconds=30))
    t = now()
    await q.publish("history", now=t)
    await q.deliveries.open()  # the webhook is switched on now
    (fresh,) = await q.publish("fresh", now=t)
    assert [d.action_id for d in await q.deliveries.take("w", 10, t)] == [fresh.action_id]


async def test_failures_are_retried_with_jittered_backoff_then_parked_with_the_reason(
    queue: Queue,
) -> None:
    t0 = now()
    (record,) = await queue.publish("p", now=t0)
    (d1,) = await queue.deliveries.take("w", 10, t0)
    assert not await queue.deliveries.failed(d1, "HTTP 503", t0)
    assert await queue.deliveries.counts() == DeliveryCounts(0, 1, 0)
    # 10 s backoff, half of it jitter: not before 5 s, at the latest after 10 s.
    assert await queue.deliveries.take("w", 10, t0 + timedelta(seconds=4.9)) == []
    (d2,) = await queue.deliveries.take("w", 10, t0 + timedelta(seconds=10))
    assert (d2.action_id, d2.attempt, d2.last_error) == (record.action_id, 2, "HTTP 503")
    assert d2.body() == d1.body()  # the same bytes, so the same signature, on every try
    t2 = t0 + timedelta(seconds=10)
    assert not await queue.deliveries.failed(d2, "ConnectError: refused", t2)
    assert await queue.deliveries.take("w", 10, t2 + timedelta(seconds=9.9)) == []  # 10-20 s
    (d3,) = await queue.deliveries.take("w", 10, t2 + timedelta(seconds=20))
    assert d3.attempt == 3
    t3 = t2 + timedelta(seconds=20)
    assert await queue.deliveries.failed(d3, "HTTP 500", t3)  # the last try: parked
    assert await queue.deliveries.counts() == DeliveryCounts(0, 0, 1)
    assert await queue.deliveries.take("w", 10, t3 + timedelta(days=1)) == []
    (dead,) = await queue.deliveries.dead_letters()
    assert (dead.action_id, dead.profile_id, dead.error, dead.attempts) == (
        record.action_id, "p", "HTTP 500", 3)
    assert abs(dead.last_at - t3) < timedelta(milliseconds=2)
    assert abs(dead.first_at - t0) < timedelta(seconds=2)
    assert dead.action["action_id"] == record.action_id


async def test_a_refused_delivery_is_parked_at_once(queue: Queue) -> None:
    t = now()
    await queue.publish("p", now=t)
    (d,) = await queue.deliveries.take("w", 10, t)
    assert await queue.deliveries.failed(d, "HTTP 422", t, final=True)
    assert [(x.error, x.attempts) for x in await queue.deliveries.dead_letters()] == [
        ("HTTP 422", 1)]


async def test_replay_puts_dead_letters_back_with_fresh_tries(queue: Queue) -> None:
    t = now()
    published = await queue.publish("a", "b", "c", now=t)
    for d in await queue.deliveries.take("w", 10, t):
        await queue.deliveries.failed(d, "HTTP 410", t, final=True)
    dead = await queue.deliveries.dead_letters()
    assert len(dead) == 3
    assert await queue.deliveries.replay([dead[0].id, "999-0"], t) == [dead[0].id]
    assert await queue.deliveries.replay([dead[0].id], t) == []  # only once
    assert await queue.deliveries.counts() == DeliveryCounts(0, 1, 2)
    assert await queue.deliveries.replay(None, t) == [d.id for d in dead[1:]]
    assert await queue.deliveries.dead_letters() == []
    again = await queue.deliveries.take("w", 10, t)
    assert sorted(d.action_id for d in again) == sorted(r.action_id for r in published)
    assert {d.attempt for d in again} == {1}
    assert {d.last_error for d in again} == {"HTTP 410"}
    for d in again:
        assert await queue.deliveries.delivered(d)
    assert await queue.deliveries.counts() == DeliveryCounts(0, 0, 0)


async def test_a_dead_consumers_deliveries_come_back_after_the_lease(backend: Backend) -> None:
    q = make_queue(backend, timedelta(seconds=0.5), RetryPolicy(max_tries=3, backoff=0.1))
    await q.deliveries.open()
    await q.publish("a", "b", now=now())
    held = await q.deliveries.take("dies", 10, now())  # first tries, then the consumer dies
    await q.publish("c", now=now())
    (retry,) = await q.deliveries.take("dies-too", 10, now())
    await q.deliveries.failed(retry, "HTTP 503", now())
    await asyncio.sleep(0.15)
    (retrying,) = await q.deliveries.take("dies-too", 10, now())  # its 2nd try; then it dies
    assert (retrying.profile_id, retrying.attempt) == ("c", 2)
    assert await q.deliveries.take("survivor", 10, now()) == []  # the leases still hold
    await asyncio.sleep(0.6)
    taken = await q.deliveries.take("survivor", 10, now())
    assert sorted((d.profile_id, d.attempt) for d in taken) == [("a", 1), ("b", 1), ("c", 2)]
    for d in taken:
        assert await q.deliveries.delivered(d)
    # The dead come back to life: what they held was settled by the survivor.
    assert not await q.deliveries.delivered(held[0])
    assert not await q.deliveries.failed(retrying, "HTTP 503", now())
    assert await q.deliveries.counts() == DeliveryCounts(0, 0, 0)


async def test_erasure_forgets_the_persons_retries_and_dead_letters(
    queue: Queue, backend: Backend
) -> None:
    t = now()
    await queue.publish("gone", "gone", "stays", now=t)
    taken: list[Delivery] = await queue.deliveries.take("w", 10, t)
    gone = [d for d in taken if d.profile_id == "gone"]
    await queue.deliveries.failed(gone[0], "HTTP 503", t)
    await queue.deliveries.failed(gone[1], "HTTP 422", t, final=True)
    (stays,) = [d for d in taken if d.profile_id == "stays"]
    await queue.deliveries.failed(stays, "HTTP 422", t, final=True)
    await queue.scheduler.erase_person("gone")
    await queue.deliveries.forget("gone")
    assert [d.profile_id for d in await queue.deliveries.dead_letters()] == ["stays"]
    assert await queue.deliveries.take("w", 10, t + timedelta(hours=1)) == []
    assert await queue.deliveries.counts() == DeliveryCounts(0, 0, 1)
    if backend.redis is not None:
        raw = [k for k in await keys_mentioning(backend, "deliveries")]
        for key in raw:
            assert b"gone" not in orjson.dumps(str(await _dump(backend, key)))


async def _dump(backend: Backend, key: str) -> object:
    assert backend.redis is not None
    kind = await backend.redis.type(key)
    if kind in (b"zset", "zset"):
        return await backend.redis.zrange(key, 0, -1)
    return await backend.redis.xrange(key)
