"""Scheduler throughput: due steps published per second with Redis, by 1 and by 2 workers.

Run from the repository root::

    .venv/bin/python bench/bench_scheduler.py [--steps 20000] [--batch 200] [--repeat 3] \\
        [--json out.json]

Starts a dedicated ``redis-server``; for each worker count, schedules ``--steps`` steps that are
all due (bodies in the people's ``actions`` records, 1 step per person, as in production), then
starts that many worker *processes* (the real :class:`service.worker.Worker` loop with a
:class:`~personalization.automation.redis_scheduler.RedisScheduler`). They wait for a start signal
so that process start-up is not measured; the clock runs from the signal until the schedule and the
processing set are empty. Afterwards the stream is checked: every step exactly once. Each setting
runs ``--repeat`` times; the median run is shown with the rates of all runs (the machine is shared).
The in-process :class:`~personalization.automation.memory_scheduler.MemoryScheduler` is measured
too, for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._server import dedicated_redis  # noqa: E402
from personalization.automation.action_record import ActionRecord  # noqa: E402
from personalization.automation.memory_scheduler import MemoryScheduler  # noqa: E402
from personalization.automation.redis_scheduler import RedisScheduler  # noqa: E402
from personalization.store.memory_store import MemoryStore  # noqa: E402
from personalization.store.redis_store import RedisStore  # noqa: E402
from service.worker import Worker  # noqa: E402

console = Console()
COLUMNS = ("backend", "workers", "steps", "batch", "seconds", "per_second", "runs_per_second",
           "per_worker", "exactly_once")


def make_records(n: int, due: datetime) -> list[ActionRecord]:
    return [ActionRecord.model_validate({
        "action_id": uuid.uuid4().hex, "profile_id": f"bench-{i}", "type": "cart_reminder",
        "programme": "cart_abandonment", "step": "reminder", "channel": "email",
        "send_at": due, "content_id": "email-cart-abandonment-de", "priority": 75,
        "reasons": ["cart_abandonment triggered: add_to_cart", "channel email"],
        "run_id": uuid.uuid4().hex, "created_at": due,
    }) for i in range(n)]


async def child(url: str, prefix: str, batch: int) -> None:
    """One worker process: wait for the signal, publish until nothing is left, report."""
    client = aioredis.Redis.from_url(url)
    scheduler = RedisScheduler(RedisStore(client, prefix=prefix))
    worker = Worker(scheduler, batch_size=batch, poll_interval=0.001)
    await client.incr(f"{prefix}:bench:ready")
    while not await client.exists(f"{prefix}:bench:go"):
        await asyncio.sleep(0.001)
    while True:
        if not await worker.run_once() and await scheduler.backlog() == (0, 0):
            break
    print(json.dumps({"published": worker.published}))
    await client.aclose()


async def run_redis(url: str, steps: int, workers: int, batch: int) -> dict[str, Any]:
    prefix = f"kb{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis.from_url(url)
    scheduler = RedisScheduler(RedisStore(client, prefix=prefix))
    records = make_records(steps, datetime.now(UTC) - timedelta(seconds=1))
    for start in range(0, steps, 1000):
        await scheduler.schedule(records[start:start + 1000])
    procs = [subprocess.Popen(
        [sys.executable, __file__, "--child", "--redis-url", url, "--prefix", prefix,
         "--batch", str(batch)], cwd=ROOT, stdout=subprocess.PIPE) for _ in range(workers)]
    while int(await client.get(f"{prefix}:bench:ready") or 0) < workers:
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    await client.set(f"{prefix}:bench:go", 1)
    while await scheduler.backlog() != (0, 0):
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - started
    shares = [json.loads(p.communicate(timeout=120)[0])["published"] for p in procs]
    entries: Any = await client.xrange(scheduler.stream_key)
    ids = [orjson.loads(fields[b"action"])["action_id"] for _, fields in entries]
    exactly_once = len(ids) == steps and set(ids) == {r.action_id for r in records}
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=10_000)]
    for start in range(0, len(keys), 1000):
        await client.delete(*keys[start:start + 1000])
    await client.aclose()
    return {"backend": "redis", "workers": workers, "steps": steps, "batch": batch,
            "seconds": round(elapsed, 3), "per_second": round(steps / elapsed),
            "per_worker": shares, "exactly_once": exactly_once}


async def run_memory(steps: int, batch: int) -> dict[str, Any]:
    scheduler = MemoryScheduler(MemoryStore())
    records = make_records(steps, datetime.now(UTC) - timedelta(seconds=1))
    await scheduler.schedule(records)
    worker = Worker(scheduler, batch_size=batch)
    started = time.perf_counter()
    while await worker.run_once():
        pass
    elapsed = time.perf_counter() - started
    published = {r.action_id for _, r in await scheduler.published(steps)}
    return {"backend": "memory", "workers": 1, "steps": steps, "batch": batch,
            "seconds": round(elapsed, 3), "per_second": round(steps / elapsed),
            "per_worker": [worker.published],
            "exactly_once": published == {r.action_id for r in records}}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, with every run's rate and the exactly-once check of all."""
    ordered = sorted(runs, key=lambda r: r["per_second"])
    middle = dict(ordered[len(ordered) // 2])
    middle["runs_per_second"] = [r["per_second"] for r in runs]
    middle["exactly_once"] = all(r["exactly_once"] for r in runs)
    return middle


async def main(args: argparse.Namespace) -> None:
    results = []
    with dedicated_redis() as url:
        for workers in (1, 2):
            runs = [await run_redis(url, args.steps, workers, args.batch)
                    for _ in range(args.repeat)]
            results.append(_median(runs))
    results.append(_median([await run_memory(args.steps, args.batch)
                            for _ in range(args.repeat)]))
    table = Table(title="Scheduler: due steps published per second")
    for column in COLUMNS:
        table.add_column(column)
    for row in results:
        table.add_row(*(str(row[c]) for c in COLUMNS))
    console.print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="Runs per setting (median shown).")
    parser.add_argument("--json", default=None, help="Also write the figures to this file.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        asyncio.run(child(arguments.redis_url, arguments.prefix, arguments.batch))
    else:
        asyncio.run(main(arguments))
