"""The scheduler contract on every backend: due steps are published once, cancelled ones never,
claimed-but-unpublished ones are recovered after the lease, and erasure forgets a person."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from personalization.automation.action_record import ActionRecord
from personalization.automation.memory_scheduler import MemoryScheduler
from personalization.automation.redis_scheduler import RedisScheduler
from personalization.clock import FrozenClock
from personalization.store.redis_store import RedisStore
from tests.conftest import Backend
from tests.factories import keys_mentioning, make_store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def make_record(profile_id: str, send_at: datetime, **overrides: object) -> ActionRecord:
    values: dict[str, object] = {
        "action_id": uuid.uuid4().hex, "profile_id": profile_id, "type": "cart_reminder",
        "programme": "cart_abandonment", "step": "reminder", "channel": "email",
        "send_at": send_at, "content_id": None, "priority": 50, "reasons": ["test"],
        "run_id": uuid.uuid4().hex, "created_at": T0,
    }
    values.update(overrides)
    return ActionRecord.model_validate(values)


@pytest.fixture
async def scheduler(backend: Backend) -> AsyncIterator[MemoryScheduler | RedisScheduler]:
    store = make_store(backend)
    if backend.redis is None:
        yield MemoryScheduler(store, lease=LEASE)
    else:
        assert isinstance(store, RedisStore)
        yield RedisScheduler(store, lease=LEASE)


async def test_a_step_is_published_once_when_due(
    scheduler: MemoryScheduler | RedisScheduler,
) -> None:
    record = make_record("u1", T0 + timedelta(hours=1))
    await scheduler.schedule([record])
    assert await scheduler.claim(T0 + timedelta(minutes=59), 10) == []
    claims = await scheduler.claim(T0 + timedelta(hours=1), 10)
    assert [c.action_id for c in claims] == [record.action_id]
    published = await scheduler.publish(claims, T0 + timedelta(hours=1))
    assert [p.action_id for p in published] == [record.action_id]
    assert await scheduler.claim(T0 + timedelta(days=1), 10) == []
    stream = await scheduler.published()
    assert [r.action_id for _, r in stream] == [record.action_id]
    assert published[0].stream_id == stream[0][0]
    (stored,) = await scheduler.actions("u1")
    assert stored.status == "sent"
    assert stored.published_at == T0 + timedelta(hours=1)
    assert await scheduler.backlog() == (0, 0)


async def test_due_steps_come_in_order_of_due_time_and_in_batches(
    scheduler: MemoryScheduler | RedisScheduler,
) -> None:
    records = [make_record(f"u{i}", T0 + timedelta(minutes=10 - i)) for i in range(5)]
    await scheduler.schedule(records)
    first = await scheduler.claim(T0 + timedelta(hours=1), 3)
    second = await scheduler.claim(T0 + timedelta(hours=1), 3)
    assert [c.profile_id for c in first] == ["u4", "u3", "u2"]
    assert [c.profile_id for c in second] == ["u1", "u0"]


async def test_a_cancelled_step_is_never_published(
    scheduler: MemoryScheduler | RedisScheduler,
) -> None:
    keep, drop = make_record("u1", T0), make_record("u1", T0)
    await scheduler.schedule([keep, drop])
    cancelled = await scheduler.cancel("u1", [drop.action_id], reason="purchase", now=T0)
    assert [c.action_id for c in cancelled] == [drop.action_id]
    claims = await scheduler.claim(T0, 10)
    assert [c.action_id for c in claims] == [keep.action_id]
    await scheduler.publish(claims, T0)
    by_id = {r.action_id: r for r in await scheduler.actions("u1")}
    assert by_id[drop.action_id].status == "cancelled"
    assert by_id[drop.action_id].note == "purchase"
    assert by_id[keep.action_id].status == "sent"
    # Cancelling a step that was sent changes nothing.
    assert await scheduler.cancel("u1", [keep.action_id], reason="late", now=T0) == []


async def test_a_step_cancelled_after_its_claim_is_dropped(
    scheduler: MemoryScheduler | RedisScheduler,
) -> None:
    record = make_record("u1", T0)
    await scheduler.schedule([record])
    claims = await scheduler.claim(T0, 10)
    await scheduler.cancel("u1", [record.action_id], reason="purchase", now=T0)
    assert await scheduler.publish(claims, T0) == []
    assert await scheduler.published() == []
    assert await scheduler.backlog() == (0, 0)


async def test_a_claim_is_exclusive_until_its_lease_expires(
    scheduler: MemoryScheduler | RedisScheduler,
) -> None:
    records = [make_record(f"u{i}", T0) for i in range(4)]
    await scheduler.schedule(records)
    clock = FrozenClock(T0)
    dead_worker = await scheduler.claim(clock(), 10)  # claims, then "dies" without publishing
    assert len(dead_worker) == 4
    clock.advance(seconds=29)
    assert await scheduler.claim(clock(), 10) == []
    assert await scheduler.backlog() == (0, 4)
    clock.advance(seconds=2)  # past the lease
    rescuer = await scheduler.claim(clock(), 10)
    assert sorted(c.action_id for c in rescuer) == sorted(r.action_id for r in records)
    assert len(await scheduler.publish(rescuer, clock())) == 4
    # The first worker comes back to life: its lease was taken over, nothing is published twice.
    assert await scheduler.publish(dead_worker, clock()) == []
    assert len(await scheduler.published()) == 4
    assert {r.status for i in range(4) for r in await scheduler.actions(f"u{i}")} == {"sent"}


async def test_erasure_forgets_the_person_in_records_schedule_and_stream(
    scheduler: MemoryScheduler | RedisScheduler, backend: Backend,
) -> None:
    sent, waiting, other = make_record("gone", T0), make_record("gone", T0 + timedelta(days=3)), \
        make_record("stays", T0)
    await scheduler.schedule([sent, waiting, other])
    claims = await scheduler.claim(T0, 10)
    await scheduler.publish(claims, T0)
    await scheduler.erase_person("gone")
    assert await scheduler.actions("gone") == []
    assert [r.profile_id for _, r in await scheduler.published()] == ["stays"]
    assert await scheduler.claim(T0 + timedelta(days=30), 10) == []
    assert [r.action_id for r in await scheduler.actions("stays")] == [other.action_id]
    if backend.redis is not None:
        assert await keys_mentioning(backend, "{p:gone}") == []


async def test_erasure_after_the_store_forgot_the_records_still_clears_the_schedule(
    scheduler: MemoryScheduler | RedisScheduler,
) -> None:
    await scheduler.schedule([make_record("gone", T0 + timedelta(days=1)), make_record("gone", T0)])
    await scheduler.publish(await scheduler.claim(T0, 10), T0)
    for record in await scheduler.actions("gone"):
        await scheduler.records.delete_record("gone", "actions", record.action_id)
    await scheduler.erase_person("gone")
    assert await scheduler.backlog() == (0, 0)
    assert await scheduler.published() == []


async def test_old_past_actions_are_pruned(backend: Backend) -> None:
    store = make_store(backend)
    scheduler = (RedisScheduler(store, max_past=3, prune_slack=0) if isinstance(store, RedisStore)
                 else MemoryScheduler(store, max_past=3, prune_slack=0))
    for i in range(6):
        record = make_record("u1", T0 + timedelta(minutes=i))
        await scheduler.schedule([record])
        await scheduler.publish(await scheduler.claim(T0 + timedelta(hours=1), 10), T0)
    await scheduler.schedule([make_record("u1", T0 + timedelta(days=1))])
    kept = await scheduler.actions("u1")
    assert [r.status for r in kept] == ["sent", "sent", "sent", "pending"]
    assert kept[0].send_at == T0 + timedelta(minutes=3)


async def test_pruning_waits_for_the_slack_then_cuts_back_to_the_bound(backend: Backend) -> None:
    store = make_store(backend)
    scheduler = (RedisScheduler(store, max_past=3, prune_slack=4) if isinstance(store, RedisStore)
                 else MemoryScheduler(store, max_past=3, prune_slack=4))
    for i in range(7):
        await scheduler.schedule([make_record("u1", T0 + timedelta(minutes=i))])
        await scheduler.publish(await scheduler.claim(T0 + timedelta(hours=1), 10), T0)
    assert len(await scheduler.actions("u1")) == 7  # within max_past + slack: nothing read
    await scheduler.schedule([make_record("u1", T0 + timedelta(days=1))])
    kept = await scheduler.actions("u1")
    assert [r.status for r in kept] == ["sent", "sent", "sent", "pending"]


async def test_a_cancellation_racing_the_publisher_is_never_overwritten(
    scheduler: MemoryScheduler | RedisScheduler,
) -> None:
    # The publisher read the step as pending; before it marks it sent, the step is cancelled
    # (and another person is erased). The mark must not undo either.
    kept, raced = make_record("u1", T0), make_record("u1", T0)
    erased = make_record("gone", T0)
    await scheduler.schedule([kept, raced, erased])
    await scheduler.cancel("u1", [raced.action_id], reason="purchase", now=T0)
    await scheduler.erase_person("gone")
    sent = [r.model_copy(update={"status": "sent"}) for r in (kept, raced, erased)]
    assert await scheduler._mark_sent(sent) == [True, False, False]
    by_id = {r.action_id: r.status for r in await scheduler.actions("u1")}
    assert by_id == {kept.action_id: "sent", raced.action_id: "cancelled"}
    assert await scheduler.actions("gone") == []
