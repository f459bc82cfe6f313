"""HTTP load on loopback against ``kairos serve --workers 2`` with Redis, and scale curves.

Scenarios at fixed request rates (open loop, latency from the scheduled send time):
(a) context-only decide for a known profile, (b) decide with an utterance, (c) chat,
(d) batched events (100 per request). Then decide latency with 10k, 100k and 1M profiles in
Redis, the memory of each worker and the start-up time. Prints a summary table and writes
``bench/results/http.json``.

    .venv/bin/python -m bench.bench_http                 # 60 s per rate, as the README reports
    .venv/bin/python -m bench.bench_http --seconds 10    # a quicker look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bench import loadgen
from bench._server import SERVER_KEY, dedicated_redis, kairos
from bench.bench_events import make_event
from personalization.store.keys import Keys

RESULTS = Path(__file__).resolve().parent / "results"
console = Console()
AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
]
REFERRERS = ["https://www.google.de/search?q=wanderschuhe+test", "", "https://www.bing.com/",
             "https://mail.google.com/"]
UTTERANCES = ["wo ist meine bestellung", "ich suche ein leichtes zelt für zwei",
              "can I return my boots", "welche jacke ist wasserdicht", "filiale in der nähe",
              "my payment failed", "ich will mein konto löschen", "what are your opening hours"]
HEADERS = {"X-API-Key": SERVER_KEY}


def context(rng: random.Random) -> dict[str, Any]:
    return {"user_agent": rng.choice(AGENTS), "referrer": rng.choice(REFERRERS),
            "url": "https://shop.example/de/", "accept_language": "de-DE,de;q=0.9",
            "timezone": "Europe/Berlin"}


def scenario_requests(kind: str, profiles: int, n: int = 2000) -> list[loadgen.Request]:
    rng = random.Random(kind)
    out = []
    for i in range(n):
        who = f"p{rng.randrange(profiles)}"
        if kind == "decide":
            body = {"session_id": f"s{i}", "profile_id": who, "slots": ["hero", "sidebar"],
                    "context": context(rng)}
        elif kind == "decide_text":
            body = {"session_id": f"s{i}", "profile_id": who, "slots": ["hero", "sidebar"],
                    "context": context(rng), "text": rng.choice(UTTERANCES)}
        elif kind == "chat":
            body = {"session_id": f"c{i % 300}", "profile_id": who, "channel": "web",
                    "message": rng.choice(UTTERANCES)}
        else:
            people = [f"p{rng.randrange(profiles)}" for _ in range(20)]
            body = {"events": [make_event(rng, people[j % 20]) for j in range(100)]}
        path = {"decide": "/v1/decide", "decide_text": "/v1/decide", "chat": "/v1/chat",
                "events": "/v1/events"}[kind]
        out.append(loadgen.Request("POST", path, orjson.dumps(body), dict(HEADERS)))
    return out


async def seed(base: str, profiles: int) -> None:
    """``profiles`` known people with consent and a few events each, through the API."""
    rng = random.Random(1)
    async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=60) as client:
        with Progress(TextColumn("seeding profiles"), BarColumn(), TimeRemainingColumn(),
                      console=console) as bar:
            task = bar.add_task("seed", total=profiles)
            for start in range(0, profiles, 20):
                events = []
                for p in range(start, min(start + 20, profiles)):
                    events.append({"event_id": f"consent-{p}", "type": "consent_update",
                                   "profile_id": f"p{p}",
                                   "properties": {"consents": {"personalisation": True}}})
                    events += [make_event(rng, f"p{p}") for _ in range(4)]
                answer = await client.post("/v1/events", json={"events": events})
                answer.raise_for_status()
                bar.advance(task, min(20, profiles - start))


def clone_profiles(redis_url: str, prefix: str, template_id: str, total: int) -> None:
    """Fill Redis up to ``total`` profiles by copying one real profile document (fast)."""
    conn = redis.Redis.from_url(redis_url)
    keys = Keys(prefix)
    doc = conn.hget(keys.of_profile(template_id, "profile"), "doc")
    assert doc is not None, "seed first"
    existing = sum(1 for _ in conn.scan_iter(match=f"{prefix}:*:profile", count=10_000))
    with Progress(TextColumn(f"filling Redis to {total:,} profiles"), BarColumn(),
                  TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("fill", total=total - existing)
        pipe = conn.pipeline(transaction=False)
        for i in range(existing, total):
            pid = f"bulk{i}"
            pipe.hset(keys.of_profile(pid, "profile"), mapping={
                "v": 1, "doc": doc.replace(template_id.encode(), pid.encode())})
            if i % 5000 == 4999:
                pipe.execute()
                bar.advance(task, 5000)
        pipe.execute()
    conn.close()


def worker_memory_mb(master_pid: int) -> list[float]:
    out = []
    for child in Path("/proc").glob("[0-9]*"):
        try:
            status = (child / "status").read_text()
        except OSError:
            continue
        if f"PPid:\t{master_pid}\n" in status:
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    out.append(round(int(line.split()[1]) / 1024, 1))
    return sorted(out)


def run_rate(server: Any, kind: str, rate: float, seconds: float, profiles: int) -> dict[str, Any]:
    requests = scenario_requests(kind, profiles)
    with Progress(TextColumn(f"{kind:12} {rate:>5.0f} rps"), BarColumn(), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task(kind, total=int(rate * seconds))
        result = asyncio.run(loadgen.run(
            server.host, server.port, loadgen.cycle_requests(requests), rate=rate,
            seconds=seconds, connections=128, on_progress=lambda n: bar.advance(task, n)))
    summary = result.summary()
    summary["achieved_rps"] = len(result.latencies_ms) / seconds  # answered in time, per second
    summary["scenario"] = kind
    summary["statuses"] = {str(k): v for k, v in sorted(result.statuses.items())}
    if kind == "events":
        summary["events_per_s"] = summary["achieved_rps"] * 100
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--scale", default="10000,100000,1000000",
                        help="profile counts for the scale curve (empty: skip)")
    args = parser.parse_args()
    rates = {"decide": [100, 500, 1000], "decide_text": [100, 500, 1000],
             "chat": [100, 500, 1000], "events": [20, 50, 80]}
    report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="minutes"),
                              "cpus": os.cpu_count(), "seconds_per_rate": args.seconds,
                              "runs": [], "scale": []}
    with dedicated_redis() as redis_url:
        started = time.perf_counter()
        with kairos(redis_url, workers=2, env={"KAIROS_REDIS_PREFIX": "bench"}) as server:
            report["startup_s"] = round(time.perf_counter() - started, 2)
            asyncio.run(seed(server.base, args.profiles))
            for kind, kind_rates in rates.items():
                for rate in kind_rates:
                    report["runs"].append(run_rate(server, kind, rate, args.seconds,
                                                   args.profiles))
            report["worker_rss_mb"] = worker_memory_mb(server.process.pid)
            for total in [int(x) for x in args.scale.split(",") if x]:
                clone_profiles(redis_url, "bench", "p0", total)
                run = run_rate(server, "decide", 200, min(args.seconds, 20), total)
                run["profiles"] = total
                run["redis_used_mb"] = round(
                    redis.Redis.from_url(redis_url).info("memory")["used_memory"] / 2**20, 1)
                report["scale"].append(run)
    show(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "http.json").write_text(json.dumps(report, indent=2))
    console.print(f"written to {RESULTS / 'http.json'}")


def show(report: dict[str, Any]) -> None:
    table = Table(title=f"HTTP on loopback, kairos serve --workers 2 + Redis, "
                        f"{report['cpus']} cores, {report['date']}")
    for column in ("scenario", "target rps", "achieved rps", "p50 ms", "p95 ms", "p99 ms",
                   "errors", "events/s"):
        table.add_column(column, justify="right")
    for run in report["runs"]:
        table.add_row(run["scenario"], f"{run['target_rps']:.0f}", f"{run['achieved_rps']:.0f}",
                      f"{run['p50_ms']:.1f}", f"{run['p95_ms']:.1f}", f"{run['p99_ms']:.1f}",
                      f"{run['errors']:.0f}",
                      f"{run.get('events_per_s', 0):.0f}" if run["scenario"] == "events" else "")
    console.print(table)
    scale = Table(title="Context-only decide at 200 rps by profiles in Redis")
    for column in ("profiles", "Redis MB", "p50 ms", "p99 ms", "errors"):
        scale.add_column(column, justify="right")
    for run in report["scale"]:
        scale.add_row(f"{run['profiles']:,}", f"{run['redis_used_mb']}", f"{run['p50_ms']:.1f}",
                      f"{run['p99_ms']:.1f}", f"{run['errors']:.0f}")
    console.print(scale)
    console.print(f"start-up to ready: {report['startup_s']} s; worker RSS MB: "
                  f"{report.get('worker_rss_mb')}")


if __name__ == "__main__":
    main()
