"""Events per second through the HTTP API with Redis, and bytes per profile in Redis.

Run from the repository root::

    .venv/bin/python bench/bench_events.py [--seconds 15] [--workers 2] [--json figures.json]

Starts ``kairos serve --workers N`` as a subprocess against the local Redis (127.0.0.1:6379 when it
answers, else a ``redis-server`` started here) under a fresh key prefix, then drives
``POST /v1/events`` from this process with a bounded async httpx client (closed loop: each of
``--concurrency`` tasks sends its next request when the previous one was answered):

- single events, spread over 5,000 profiles;
- batches of 100 events, each over 20 profiles (5 events each);

and, for comparison, ``ProfileService.ingest`` in this process on the same Redis (batches of 100,
no HTTP, no listeners), with the CPU time it took per event.

With Redis, ``/v1/events`` only stores the events and appends one change per profile to the
change feed; automation, A/B goals and schedules react in ``kairos worker``
(:mod:`personalization.profiles.reactions`). So the run has three parts: ingestion with no worker
running (what the API takes), then one ``kairos worker`` started on the backlog the ingestion left
(how fast reactions follow; the feed must end empty), then batches again with that worker running on
the same two cores (the rate at which both keep pace).

Only 200 answers whose ``accepted`` count matches what was sent are counted. Afterwards 20 fresh
profiles receive 100 events each (a mix of views, searches, carts, purchases, clicks, chat and
consent, in batches of 10) and ``MEMORY USAGE`` is read for each profile hash; the event stream and
the idempotency set are reported separately. The key prefix is deleted at the end.

The machine is shared, so beside the measured events/s the table gives the CPU the server
processes (all workers) and Redis spent per event, read from ``/proc`` and ``INFO cpu``, and what
two otherwise idle cores could therefore ingest.

Targets (issue 5): >= 5,000 events/s with batches; <= 2 KB per profile (stream excluded).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._server import SERVER_KEY, kairos, kairos_worker  # noqa: E402
from personalization.profiles.reactions import GROUP  # noqa: E402
from personalization.store.keys import Keys  # noqa: E402
from tests.redis_servers import answers, start_redis  # noqa: E402

console = Console(width=150)
CATEGORIES = [f"cat-{i}" for i in range(40)]
_ids = itertools.count()


def make_event(rng: random.Random, profile_id: str) -> dict[str, Any]:
    """One event of a realistic mix (mostly views), about ``profile_id``."""
    kind = rng.choices(
        ["page_view", "product_view", "search", "add_to_cart", "purchase", "email_click",
         "chat_message", "consent_update"],
        weights=[40, 25, 10, 10, 4, 5, 4, 2],
    )[0]
    category = rng.choice(CATEGORIES)
    event: dict[str, Any] = {"event_id": f"b{next(_ids)}", "type": kind, "profile_id": profile_id,
                             "situation": {"device": rng.choice(["mobile", "desktop"]),
                                           "source": rng.choice(["search", "direct", "email"]),
                                           "language": "de"}}
    if kind == "page_view":
        event["properties"] = {"url": f"/c/{category}", "category": category}
    elif kind == "product_view":
        event["properties"] = {"product_id": f"sku-{rng.randrange(5000)}", "category": category,
                               "price": 49.9}
    elif kind == "search":
        event["properties"] = {"query": "wanderschuhe wasserdicht", "category": category}
    elif kind == "add_to_cart":
        event["properties"] = {"product_id": f"sku-{rng.randrange(5000)}", "category": category,
                               "price": 59.0, "currency": "EUR"}
    elif kind == "purchase":
        event["properties"] = {"order_id": f"o{next(_ids)}", "value": 118.0, "currency": "EUR",
                               "items": [{"product_id": "sku-1", "category": category}]}
    elif kind == "email_click":
        event["properties"] = {"campaign_id": "spring", "category": category}
    elif kind == "chat_message":
        event["properties"] = {"topics": [category]}
        event["intent"] = {"intent": "product_question", "phase": "consider", "moment": "know",
                           "confidence": 0.81}
    else:
        event["properties"] = {"consents": {"personalisation": True, "email": rng.random() < .5},
                               "source": "banner"}
    return event


@contextmanager
def local_redis() -> Iterator[str]:
    if answers(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    server = start_redis()
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()


def session_cpu_seconds(session: int) -> float:
    """CPU time (user + system) of every live process in ``session`` (the server's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # fields after "comm": state, ppid, pgrp, session, ...
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def redis_cpu_seconds(redis_url: str) -> float:
    info = redis.Redis.from_url(redis_url).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def drive(base: str, body_for: Callable[[random.Random], tuple[bytes, int]], *,
                seconds: float, concurrency: int) -> dict[str, Any]:
    """Closed loop for ``seconds``: events/s accepted, request latencies, failures."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    events = 0
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"X-API-Key": SERVER_KEY, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30,
                                 headers=headers) as client:
        stop = time.perf_counter() + seconds

        async def worker(seed: int) -> None:
            nonlocal events, failures
            rng = random.Random(seed)
            while time.perf_counter() < stop:
                body, count = body_for(rng)
                started = time.perf_counter()
                try:
                    answer = await client.post("/v1/events", content=body)
                except httpx.HTTPError as exc:  # counted, named, and the run goes on
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if answer.status_code == 200 and len(answer.json()["accepted"]) == count:
                    events += count
                else:
                    errors[f"HTTP {answer.status_code}"] = errors.get(
                        f"HTTP {answer.status_code}", 0) + 1
                    failures += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(seed) for seed in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "events_per_s": events / elapsed,
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000,
        "failed_requests": failures,
        "errors": errors,
        "elapsed_s": elapsed,
    }


async def in_process(redis_url: str, prefix: str, seconds: float) -> dict[str, float]:
    """``ProfileService.ingest`` on Redis in this process, no HTTP and no listeners (one core)."""
    from personalization.profiles.event_parsing import parse_events
    from personalization.profiles.service import ProfileService
    from personalization.store.redis_client import connect
    from personalization.store.redis_store import RedisStore

    store = RedisStore(connect(redis_url), prefix=prefix)
    service = ProfileService(store)
    rng = random.Random(5)
    events = 0
    began = time.perf_counter()
    cpu = time.process_time()
    while time.perf_counter() - began < seconds:
        people = [f"inproc-{rng.randrange(5000)}" for _ in range(20)]
        good, _ = parse_events([make_event(rng, people[i % 20]) for i in range(100)])
        events += len((await service.ingest(good)).accepted)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    await store.close()
    return {"events_per_s": events / elapsed, "cpu_us_per_event": cpu / events * 1e6}


def single_body(rng: random.Random) -> tuple[bytes, int]:
    return orjson.dumps(make_event(rng, f"bench-{rng.randrange(5000)}")), 1


def batch_body(rng: random.Random) -> tuple[bytes, int]:
    people = [f"bench-{rng.randrange(5000)}" for _ in range(20)]
    events = [make_event(rng, people[i % 20]) for i in range(100)]
    return orjson.dumps({"events": events}), 100


async def fill_profiles(base: str, prefix: str, count: int, per_profile: int) -> list[str]:
    """``count`` fresh profiles with ``per_profile`` events each, in batches of 10."""
    rng = random.Random(11)
    ids = [f"size-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    headers = {"X-API-Key": SERVER_KEY}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
        for profile_id in ids:
            for _ in range(per_profile // 10):
                body = {"events": [make_event(rng, profile_id) for _ in range(10)]}
                answer = await client.post("/v1/events", json=body)
                answer.raise_for_status()
    return ids


def memory_usage(redis_url: str, prefix: str, ids: list[str]) -> dict[str, float]:
    client = redis.Redis.from_url(redis_url)
    keys = Keys(prefix)
    sizes: dict[str, list[int]] = {"profile": [], "events": [], "seen": []}
    for profile_id in ids:
        for part in sizes:
            sizes[part].append(int(client.memory_usage(keys.of_profile(profile_id, part),
                                                       samples=0) or 0))
    doc = client.hget(keys.of_profile(ids[0], "profile"), "doc") or b""
    client.close()
    return {
        "profile_hash_median_bytes": statistics.median(sizes["profile"]),
        "profile_hash_max_bytes": max(sizes["profile"]),
        "profile_json_bytes_example": len(doc),
        "events_stream_median_bytes": statistics.median(sizes["events"]),
        "seen_set_median_bytes": statistics.median(sizes["seen"]),
    }


def drop_prefix(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)
    client.close()


def changes_waiting(redis_url: str, prefix: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.xlen(Keys(prefix).shared("changes")))
    finally:
        client.close()


def drain_with_worker(redis_url: str, prefix: str) -> dict[str, float]:
    """Start one worker on the backlog; time it until the feed is empty (nothing lost)."""
    backlog = changes_waiting(redis_url, prefix)
    with kairos_worker(redis_url, prefix) as process:
        began, cpu = time.perf_counter(), session_cpu_seconds(process.pid)
        waiting = backlog
        with console.status("worker reacting") as status:
            while waiting > 0:
                time.sleep(0.2)
                waiting = changes_waiting(redis_url, prefix)
                status.update(f"worker reacting: {backlog - waiting:,} of {backlog:,} changes")
        elapsed = time.perf_counter() - began
        worker_cpu = session_cpu_seconds(process.pid) - cpu
    client = redis.Redis.from_url(redis_url)
    groups = client.xinfo_groups(Keys(prefix).shared("changes"))
    client.close()
    pending = sum(int(g["pending"]) for g in groups if g["name"].decode() == GROUP)
    return {"changes": backlog, "seconds": elapsed, "changes_per_s": backlog / elapsed,
            "worker_cpu_us_per_change": worker_cpu / max(backlog, 1) * 1e6,
            "left_unacknowledged": pending}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-concurrency", type=int, default=8)
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()

    prefix = f"kbench{uuid.uuid4().hex[:8]}"
    figures: dict[str, Any] = {"cores": os.cpu_count(), "workers": args.workers,
                               "load_average_before": os.getloadavg()[0]}
    with local_redis() as redis_url:
        try:
            with kairos(redis_url, workers=args.workers, env={
                "KAIROS_REDIS_PREFIX": prefix, "KAIROS_INTENT_ENCODER": "hashing",
                "KAIROS_RATE_LIMIT_PER_MINUTE": "0",
            }) as running:
                base, session = running.base, running.process.pid
                console.print(f"kairos on {base}, Redis {redis_url}, prefix {prefix}")
                asyncio.run(drive(base, single_body, seconds=2, concurrency=8))  # warm-up
                for mode, body, concurrency in (
                        ("single", single_body, args.concurrency),
                        ("batch_100", batch_body, args.batch_concurrency)):
                    server, store = session_cpu_seconds(session), redis_cpu_seconds(redis_url)
                    result = asyncio.run(drive(base, body, seconds=args.seconds,
                                               concurrency=concurrency))
                    events = result["events_per_s"] * result["elapsed_s"]
                    result["server_cpu_us_per_event"] = (
                        session_cpu_seconds(session) - server) / events * 1e6
                    result["redis_cpu_us_per_event"] = (
                        redis_cpu_seconds(redis_url) - store) / events * 1e6
                    figures[mode] = result
                # 20 profiles per batch of 100: one change per profile and batch.
                figures["reactions"] = drain_with_worker(redis_url, prefix)
                with kairos_worker(redis_url, prefix):
                    result = asyncio.run(drive(base, batch_body, seconds=args.seconds,
                                               concurrency=args.batch_concurrency))
                    waiting_after = changes_waiting(redis_url, prefix)
                    result["changes_waiting_at_end"] = waiting_after
                    figures["batch_100_with_worker"] = result
                ids = asyncio.run(fill_profiles(base, prefix, count=20, per_profile=100))
                figures["memory"] = memory_usage(redis_url, prefix, ids)
                figures["load_average_after"] = os.getloadavg()[0]
            figures["in_process"] = asyncio.run(in_process(redis_url, prefix, args.seconds / 2))
        finally:
            drop_prefix(redis_url, prefix)

    table = Table(title=f"POST /v1/events, kairos serve --workers {args.workers}, "
                        f"{figures['cores']} cores, Redis (1-min load "
                        f"{figures['load_average_before']:.1f} before, "
                        f"{figures['load_average_after']:.1f} after)")
    columns = ("mode", "events/s", "requests/s", "p50 ms", "p99 ms", "failed",
               "server CPU µs/event", "Redis CPU µs/event", "events/s on 2 free cores*")
    for column in columns:
        table.add_column(column, justify="right" if column != "mode" else "left")
    for mode, label in (("single", "single events"), ("batch_100", "batches of 100")):
        f = figures[mode]
        f["capacity_2_cores"] = 2e6 / (f["server_cpu_us_per_event"] + f["redis_cpu_us_per_event"])
        table.add_row(label, f"{f['events_per_s']:,.0f}", f"{f['requests_per_s']:,.0f}",
                      f"{f['p50_ms']:.1f}", f"{f['p99_ms']:.1f}", str(f["failed_requests"]),
                      f"{f['server_cpu_us_per_event']:.0f}", f"{f['redis_cpu_us_per_event']:.0f}",
                      f"{f['capacity_2_cores']:,.0f}")
    console.print(table)
    for mode in ("single", "batch_100", "batch_100_with_worker"):
        if figures[mode]["errors"]:
            console.print(f"[red]{mode}: failed requests by kind: {figures[mode]['errors']}")
    console.print("* 2 s of CPU per second divided by the server's and Redis' CPU per event: what "
                  "two cores could ingest if nothing else ran (the client excluded). On a shared "
                  "machine the measured events/s fall short of it.")
    r = figures["reactions"]
    console.print(f"Reactions (one kairos worker on the backlog of the runs above): "
                  f"{r['changes']:,} changes in {r['seconds']:.1f} s = {r['changes_per_s']:,.0f} "
                  f"changes/s (one change per profile and batch, 5 events each: "
                  f"{5 * r['changes_per_s']:,.0f} events/s), {r['worker_cpu_us_per_change']:.0f} "
                  f"µs worker CPU per change; {r['left_unacknowledged']} left unacknowledged.")
    w = figures["batch_100_with_worker"]
    console.print(f"Batches of 100 with that worker running on the same cores: "
                  f"{w['events_per_s']:,.0f} events/s (p50 {w['p50_ms']:.0f} ms, p99 "
                  f"{w['p99_ms']:.0f} ms, {w['failed_requests']} failed); "
                  f"{w['changes_waiting_at_end']:,} changes waiting at the end.")
    f = figures["in_process"]
    console.print(f"In process (ProfileService.ingest on Redis, batches of 100, no HTTP, no "
                  f"listeners, one core): {f['events_per_s']:,.0f} events/s, "
                  f"{f['cpu_us_per_event']:.0f} µs CPU per event (incl. event generation)")
    memory = Table(title="Redis memory per profile after 100 events (MEMORY USAGE)")
    memory.add_column("key")
    memory.add_column("bytes", justify="right")
    m = figures["memory"]
    memory.add_row("profile hash (median of 20)", f"{m['profile_hash_median_bytes']:,.0f}")
    memory.add_row("profile hash (max)", f"{m['profile_hash_max_bytes']:,.0f}")
    memory.add_row("profile JSON document (example)", f"{m['profile_json_bytes_example']:,}")
    memory.add_row("events stream (median, reported apart)",
                   f"{m['events_stream_median_bytes']:,.0f}")
    memory.add_row("seen event ids (median, reported apart)", f"{m['seen_set_median_bytes']:,.0f}")
    console.print(memory)
    batch_ok = figures["batch_100"]["events_per_s"] >= 5000
    size_ok = m["profile_hash_max_bytes"] <= 2048
    console.print(f"target >= 5,000 events/s with batches: {'met' if batch_ok else 'NOT met'}; "
                  f"<= 2 KB per profile: {'met' if size_ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
