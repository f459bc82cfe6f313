"""The worker: several of them publish each due step exactly once and react to each stored
change once, a dead one loses nothing, the webhook (a real HTTP receiver) is signed, keyed,
retried with backoff and dead-lettered, and SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from personalization.automation.action_record import ActionRecord
from personalization.automation.deliveries import MemoryDeliveries, RetryPolicy
from personalization.automation.memory_scheduler import MemoryScheduler
from personalization.automation.redis_deliveries import RedisDeliveries
from personalization.automation.redis_scheduler import RedisScheduler
from personalization.clock import FrozenClock
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.reactions import RedisChangeFeed
from personalization.profiles.service import ProfileService
from personalization.store.keys import Keys
from personalization.store.memory_store import MemoryStore
from personalization.store.redis_store import RedisStore
from service.worker import WebhookSender, Worker, sign, verify
from tests.conftest import _delete_prefix
from tests.webhook_receiver import Receiver, running_receiver

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def record(i: int, send_at: datetime = T0) -> ActionRecord:
    return ActionRecord.model_validate({
        "action_id": uuid.uuid4().hex, "profile_id": f"p{i}", "type": "cart_reminder",
        "programme": "cart_abandonment", "step": "reminder", "channel": "email",
        "send_at": send_at, "content_id": None, "priority": 50, "reasons": ["test"],
        "run_id": uuid.uuid4().hex, "created_at": T0,
    })


async def _client(url: str, cluster: bool) -> aioredis.Redis | RedisCluster:
    if cluster:
        client = RedisCluster.from_url(url)
        await client.initialize()
        return client
    return aioredis.Redis.from_url(url)


@pytest.fixture(params=["redis", "redis-cluster"])
async def two_schedulers(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[RedisScheduler, RedisScheduler]]:
    """Two schedulers on one Redis (or Cluster), each with its own connection, as two workers."""
    cluster = request.param == "redis-cluster"
    url = request.getfixturevalue("redis_cluster_url" if cluster else "redis_url")
    prefix = f"kt{uuid.uuid4().hex[:10]}"
    clients = [await _client(url, cluster) for _ in range(2)]
    a, b = (RedisScheduler(RedisStore(c, prefix=prefix), lease=timedelta(seconds=30))
            for c in clients)
    yield a, b
    await clients[0].delete(a.stream_key, a.schedule_key, a.processing_key)
    for i in range(1000):
        await clients[0].delete(a.keys.of_profile(f"p{i}", "actions"))
    for client in clients:
        await client.aclose()


async def _stream_ids(scheduler: RedisScheduler) -> list[str]:
    entries: Any = await scheduler.redis.xrange(scheduler.stream_key)
    return [orjson.loads(fields[b"action"])["action_id"] for _, fields in entries]


async def test_two_workers_publish_each_of_1000_due_steps_exactly_once(
    two_schedulers: tuple[RedisScheduler, RedisScheduler],
) -> None:
    a, b = two_schedulers
    scheduled = [record(i, T0 + timedelta(seconds=i % 60)) for i in range(1000)]
    for start in range(0, 1000, 250):
        await a.schedule(scheduled[start:start + 250])
    clock = FrozenClock(T0 + timedelta(minutes=5))
    workers = [Worker(s, clock=clock, batch_size=25, poll_interval=0.01, name=f"w{i}")
               for i, s in enumerate((a, b))]
    stop = asyncio.Event()

    async def until_done() -> None:
        while await a.backlog() != (0, 0):
            await asyncio.sleep(0.01)
        stop.set()

    await asyncio.wait_for(asyncio.gather(*(w.run(stop) for w in workers), until_done()), 60)
    published = await _stream_ids(a)
    assert len(published) == 1000
    assert sorted(published) == sorted(r.action_id for r in scheduled)
    assert sum(w.published for w in workers) == 1000
    assert all(w.published > 0 for w in workers)  # both took part


async def test_a_worker_killed_after_claiming_loses_no_step(
    two_schedulers: tuple[RedisScheduler, RedisScheduler],
) -> None:
    a, b = two_schedulers
    scheduled = [record(i) for i in range(50)]
    await a.schedule(scheduled)
    clock = FrozenClock(T0)
    claimed = await a.claim(clock(), 30)  # worker A claims 30 and dies before publishing
    assert len(claimed) == 30
    survivor = Worker(b, clock=clock, batch_size=100)
    assert await survivor.run_once() == 20  # only the unclaimed ones, while A's lease holds
    clock.advance(seconds=31)  # A's lease has expired
    assert await survivor.run_once() == 30
    assert await a.publish(claimed, clock()) == []  # A's ghost publishes nothing twice
    published = await _stream_ids(a)
    assert sorted(published) == sorted(r.action_id for r in scheduled)
    assert await a.backlog() == (0, 0)


async def test_worker_processes_share_the_work_and_stop_on_sigterm(redis_url: str) -> None:
    prefix = f"kt{uuid.uuid4().hex[:10]}"
    client = aioredis.Redis.from_url(redis_url)
    scheduler = RedisScheduler(RedisStore(client, prefix=prefix))
    env = {**os.environ, "KAIROS_REDIS_URL": redis_url, "KAIROS_REDIS_PREFIX": prefix,
           "KAIROS_LOG_JSON": "false", "KAIROS_CONTENT_DIR": ""}
    command = [sys.executable, "-m", "service.cli", "worker", "--poll", "0.05",
               "--batch-size", "50", "--progress-every", "0.5"]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for _ in range(2)]
    try:
        for proc in procs:  # both are up (signal handlers installed) before the work arrives
            assert proc.stdout is not None
            first = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
            assert b"publishing to" in first, first
        now = datetime.now(UTC)
        scheduled = [record(i, now - timedelta(seconds=1)) for i in range(1000)]
        await scheduler.schedule(scheduled)
        # Events stored through the change feed, as /v1/events stores them with Redis: the
        # workers run the automation on them (consent, then a cart: the cart reminder).
        feed = RedisChangeFeed(client, Keys(prefix))
        ingest = ProfileService(RedisStore(client, prefix=prefix), changes=feed)
        shoppers = [f"shopper-{n}" for n in range(40)]
        for who in shoppers:
            await ingest.ingest([parse_event(e) for e in (
                {"event_id": f"{who}-c", "type": "consent_update", "profile_id": who,
                 "properties": {"consents": {"email": True}}},
                {"event_id": f"{who}-a", "type": "add_to_cart", "profile_id": who,
                 "properties": {"product_id": "p1", "price": 20, "category": "socks"}})])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (  # the reminders wait an hour: not due
                len(await _stream_ids(scheduler)) < len(scheduled) or await feed.backlog() > 0):
            await asyncio.sleep(0.1)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30)[0].decode() for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert all("worker stopped: published" in out for out in outputs), outputs
    published = await _stream_ids(scheduler)
    assert sorted(published) == sorted(r.action_id for r in scheduled)
    assert await feed.backlog() == 0
    for who in shoppers:  # each reacted to exactly once: one pending reminder, nothing else
        pending = [(r.programme, r.step) for r in await scheduler.actions(who)
                   if r.status == "pending"]
        assert pending == [("cart_abandonment", "reminder"), ("cart_abandonment", "incentive")]
    await _delete_prefix(client, prefix)
    await client.aclose()


# -- webhook ------------------------------------------------------------------------------------
async def deliver_all(scheduler: MemoryScheduler, receiver: Receiver, *records: ActionRecord,
                      max_tries: int = 4) -> Worker:  # fmt: skip
    """Publish ``records`` and run a worker (real clock, 10 ms backoff) until every delivery is
    settled: delivered or dead."""
    deliveries = MemoryDeliveries(scheduler, policy=RetryPolicy(max_tries=max_tries,
                                                                backoff=0.01))
    worker = Worker(scheduler, poll_interval=0.01, deliveries=deliveries,
                    webhook=WebhookSender(receiver.url, "s3cret"))
    await deliveries.open()
    await scheduler.schedule(list(records))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    for _ in range(500):
        if worker.delivered + worker.dead_lettered == len(records):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert worker.webhook is not None
    await worker.webhook.aclose()
    return worker


async def test_the_webhook_is_signed_keyed_and_retried_until_accepted() -> None:
    action = record(1, datetime.now(UTC))
    with running_receiver(Receiver(fail_first=2)) as receiver:
        worker = await deliver_all(MemoryScheduler(MemoryStore()), receiver, action)
    assert (worker.published, worker.delivered, worker.retried, worker.dead_lettered) == (
        1, 1, 2, 0)
    assert [(r.key, r.attempt, r.status) for r in receiver.requests] == [
        (action.action_id, 1, 503), (action.action_id, 2, 503), (action.action_id, 3, 204)]
    assert len({r.body for r in receiver.requests}) == 1  # the same body on every try
    request = receiver.requests[-1]
    assert verify(request.body, "s3cret", request.signature)
    assert not verify(request.body, "other", request.signature)
    assert orjson.loads(request.body)["action_id"] == action.action_id
    assert sign(b"{}", "k").startswith("sha256=")


async def test_undeliverable_actions_are_dead_lettered_after_the_last_try() -> None:
    scheduler = MemoryScheduler(MemoryStore())
    now = datetime.now(UTC)
    with running_receiver(Receiver(fail_first=100)) as receiver:
        worker = await deliver_all(scheduler, receiver, record(1, now), record(2, now),
                                   max_tries=3)
    assert sorted(receiver.tries().values()) == [3, 3]
    assert (worker.published, worker.delivered, worker.dead_lettered) == (2, 0, 2)
    assert worker.deliveries is not None
    dead = await worker.deliveries.dead_letters()
    assert [(d.error, d.attempts) for d in dead] == [("HTTP 503", 3)] * 2


async def test_a_refusing_receiver_is_not_retried() -> None:
    with running_receiver(Receiver(fail_first=100, fail_status=422)) as receiver:
        worker = await deliver_all(MemoryScheduler(MemoryStore()), receiver,
                                   record(1, datetime.now(UTC)))
    assert len(receiver.requests) == 1
    assert worker.deliveries is not None
    assert [(d.error, d.attempts) for d in await worker.deliveries.dead_letters()] == [
        ("HTTP 422", 1)]


async def test_an_unreachable_receiver_is_retried_then_dead_lettered_with_the_error() -> None:
    with running_receiver(Receiver()) as receiver:
        url = receiver.url  # the server is gone once the block ends: connections are refused
    gone = Receiver()
    gone.url = url
    worker = await deliver_all(MemoryScheduler(MemoryStore()), gone,
                               record(1, datetime.now(UTC)), max_tries=2)
    assert worker.deliveries is not None
    (dead,) = await worker.deliveries.dead_letters()
    assert dead.attempts == 2 and dead.error.startswith("ConnectError"), dead.error


async def test_two_workers_send_each_action_once_and_retry_it_once_without_a_crash(
    two_schedulers: tuple[RedisScheduler, RedisScheduler],
) -> None:
    a, b = two_schedulers
    queues = [RedisDeliveries(s.redis, s.keys, policy=RetryPolicy(max_tries=3, backoff=0.05))
              for s in (a, b)]
    scheduled = [record(i, datetime.now(UTC)) for i in range(300)]
    with running_receiver(Receiver(fail_first=1)) as receiver:
        workers = [Worker(s, poll_interval=0.01, batch_size=50, name=f"w{i}", deliveries=q,
                          webhook=WebhookSender(receiver.url, "s3cret"))
                   for i, (s, q) in enumerate(zip((a, b), queues, strict=True))]
        for queue in queues:
            await queue.open()
        await a.schedule(scheduled)
        stop = asyncio.Event()

        async def until_done() -> None:
            while len(receiver.delivered()) < len(scheduled) or (
                    await queues[0].counts()).retrying:
                await asyncio.sleep(0.02)
            stop.set()

        await asyncio.wait_for(asyncio.gather(*(w.run(stop) for w in workers), until_done()), 60)
        for worker in workers:
            assert worker.webhook is not None
            await worker.webhook.aclose()
    assert set(receiver.delivered()) == {r.action_id for r in scheduled}
    assert set(receiver.delivered().values()) == {1}  # no double sends
    assert set(receiver.tries().values()) == {2}  # one failure, one retry, each once
    assert all(w.delivered > 0 for w in workers)  # both took part
    assert await queues[0].counts() == (0, 0, 0)
    await a.redis.delete(queues[0].retry_key, queues[0].dead_key)


async def test_the_loop_polls_and_stops_when_told() -> None:
    scheduler = MemoryScheduler(MemoryStore())
    clock = FrozenClock(T0)
    await scheduler.schedule([record(1, T0 + timedelta(minutes=1))])
    worker = Worker(scheduler, clock=clock, poll_interval=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.05)
    assert worker.published == 0
    clock.advance(minutes=1)
    for _ in range(100):
        if worker.published:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert worker.published == 1
