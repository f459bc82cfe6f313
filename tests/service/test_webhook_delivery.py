"""Acceptance: no action is lost on the way out. Real ``kairos worker`` processes deliver to a real
HTTP receiver that fails the first tries; the worker is SIGKILLed while deliveries are being
retried; after a restart every action reaches the receiver at least once (counted by idempotency
key) except those that exhausted their tries, which sit in the dead letters with the reason until
``kairos actions replay --all`` delivers them too."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson
import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from personalization.automation.action_record import ActionRecord
from personalization.automation.deliveries import DeliveryCounts
from personalization.automation.redis_deliveries import RedisDeliveries
from personalization.automation.redis_scheduler import RedisScheduler
from personalization.store.redis_store import RedisStore
from service.worker import verify
from tests.conftest import _delete_prefix
from tests.webhook_receiver import Receiver, running_receiver

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-webhook-secret"
ACTIONS, HOPELESS, MAX_TRIES = 300, 30, 4

pytestmark = pytest.mark.integration


def action(i: int, profile_id: str) -> ActionRecord:
    now = datetime.now(UTC)
    return ActionRecord.model_validate({
        "action_id": uuid.uuid4().hex, "profile_id": profile_id, "type": "cart_reminder",
        "programme": "cart_abandonment", "step": "reminder", "channel": "email",
        "send_at": now, "content_id": None, "priority": 50, "reasons": ["test"],
        "run_id": uuid.uuid4().hex, "created_at": now,
    })


class Workers:
    """``kairos worker`` processes, their output in files (never a full pipe)."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env, self.tmp = env, tmp
        self.procs: list[tuple[subprocess.Popen[bytes], Path, IO[bytes]]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.tmp / f"worker-{len(self.procs)}.log"
        out = log.open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker", "--poll", "0.05", "--batch-size",
             "50", "--progress-every", "0.5"], cwd=ROOT, env=self.env, stdout=out,
            stderr=subprocess.STDOUT)
        self.procs.append((proc, log, out))
        deadline = time.monotonic() + 60
        while b"publishing to" not in log.read_bytes():  # up, signal handlers installed
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        return next(log.read_text() for p, log, _ in self.procs if p is proc)

    def stop_all(self) -> None:
        for proc, _, out in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.close()


@pytest.fixture(params=["redis", "redis-cluster"])
def store_url(request: pytest.FixtureRequest) -> tuple[str, bool]:
    cluster = request.param == "redis-cluster"
    return request.getfixturevalue("redis_cluster_url" if cluster else "redis_url"), cluster


@pytest.fixture
def workers(store_url: tuple[str, bool],
            tmp_path: Path) -> Iterator[Callable[[str, str], Workers]]:  # fmt: skip
    made: list[Workers] = []
    redis_url, cluster = store_url

    def make(prefix: str, url: str) -> Workers:
        env = {**os.environ, "KAIROS_REDIS_URL": redis_url, "KAIROS_REDIS_PREFIX": prefix,
               "KAIROS_REDIS_CLUSTER": str(cluster).lower(),
               "KAIROS_LOG_JSON": "false", "KAIROS_CONTENT_DIR": "", "KAIROS_WEBHOOK_URL": url,
               "KAIROS_WEBHOOK_SECRET": SECRET, "KAIROS_WEBHOOK_MAX_TRIES": str(MAX_TRIES),
               "KAIROS_WEBHOOK_BACKOFF_SECONDS": "0.5", "KAIROS_WEBHOOK_LEASE_SECONDS": "2"}
        made.append(Workers(env, tmp_path))
        return made[-1]

    yield make
    for w in made:
        w.stop_all()


async def wait_for(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "service.cli", "actions", *args], cwd=ROOT,
                          env=env, capture_output=True, timeout=60)


async def test_a_killed_worker_loses_no_delivery_and_dead_letters_are_replayed(
    store_url: tuple[str, bool], workers: Callable[[str, str], Workers]
) -> None:
    prefix = f"kt{uuid.uuid4().hex[:10]}"
    client: aioredis.Redis | RedisCluster
    if store_url[1]:
        client = RedisCluster.from_url(store_url[0])
        await client.initialize()
    else:
        client = aioredis.Redis.from_url(store_url[0])
    scheduler = RedisScheduler(RedisStore(client, prefix=prefix))
    queue = RedisDeliveries(client, scheduler.keys)
    receiver = Receiver(fail_first=2, delay=0.05,
                        hopeless=lambda a: str(a["profile_id"]).startswith("hopeless"))
    with running_receiver(receiver):
        pool = workers(prefix, receiver.url)
        first = pool.start()
        records = [action(i, f"hopeless-{i}" if i < HOPELESS else f"shopper-{i}")
                   for i in range(ACTIONS)]
        await scheduler.schedule(records)

        async def retrying() -> bool:  # deliveries failing, retried, some in flight, some done
            return (await queue.counts()).retrying >= 30 and len(receiver.delivered()) >= 20

        await wait_for("deliveries in retry", retrying)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        at_kill = await queue.counts()
        tries_at_kill = len(receiver.requests)
        delivered_at_kill = len(receiver.delivered())
        restarted = time.monotonic()
        survivors = [pool.start(), pool.start()]  # a new worker, and a second one beside it

        hopeful = {r.action_id for r in records[HOPELESS:]}
        hopeless = {r.action_id for r in records[:HOPELESS]}

        async def settled() -> bool:
            return hopeful <= set(receiver.delivered()) and (
                await queue.counts() == DeliveryCounts(0, 0, HOPELESS))

        await wait_for("every action delivered or dead", settled)
        recovery = time.monotonic() - restarted
        dead = await queue.dead_letters()
        assert {d.action_id for d in dead} == hopeless
        assert {(d.error, d.attempts) for d in dead} == {("HTTP 503", MAX_TRIES)}
        assert not hopeless & set(receiver.delivered())

        # The receiver recovers; an operator lists the dead letters and replays them all.
        receiver.recovered = True
        env = pool.env
        listed = cli(env, "dead-letters")
        assert listed.returncode == 0, listed.stderr
        lines = [orjson.loads(line) for line in listed.stdout.splitlines()]
        assert {line["action_id"] for line in lines} == hopeless
        assert {line["error"] for line in lines} == {"HTTP 503"}
        replayed = cli(env, "replay", "--all")
        assert replayed.returncode == 0, replayed.stderr
        assert len(replayed.stdout.splitlines()) == HOPELESS
        assert b"30 dead letter(s) put back" in replayed.stderr

        async def all_delivered() -> bool:
            return set(receiver.delivered()) == hopeful | hopeless and (
                await queue.counts() == DeliveryCounts(0, 0, 0))

        await wait_for("replayed dead letters delivered", all_delivered)
        for proc in survivors:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in survivors]
    assert codes == [0, 0], [pool.output(p) for p in survivors]
    assert all("worker stopped: published" in pool.output(p) for p in survivors)

    assert all(verify(r.body, SECRET, r.signature) for r in receiver.requests)
    assert all(orjson.loads(r.body)["action_id"] == r.key for r in receiver.requests)
    accepted = receiver.delivered()
    duplicates = sum(n - 1 for n in accepted.values())
    # Each try of a key carries its number: 1, 2, ... (a try interrupted by the kill repeats it).
    for key, tries in receiver.tries().items():
        numbers = [r.attempt for r in receiver.requests if r.key == key]
        assert numbers[0] == 1 and max(numbers) <= tries, (key, numbers)
    figures = {
        "actions": ACTIONS, "hopeless": HOPELESS, "max_tries": MAX_TRIES,
        "at_kill": at_kill._asdict(), "tries_at_kill": tries_at_kill,
        "delivered_at_kill": delivered_at_kill,
        "delivered_after_restart": len(hopeful), "dead_lettered": len(dead),
        "replayed_and_delivered": len(hopeless), "keys_delivered": len(accepted),
        "duplicate_deliveries": duplicates, "requests": len(receiver.requests),
        "seconds_restart_to_settled": round(recovery, 1),
    }
    where = "cluster" if store_url[1] else "single"
    sys.stderr.write(f"webhook acceptance ({where}): {orjson.dumps(figures).decode()}\n")
    assert len(accepted) == ACTIONS
    # Duplicates only come from the kill: at most what the dead worker had in flight.
    assert duplicates <= 32, figures
    await _delete_prefix(client, prefix)
    await client.aclose()
