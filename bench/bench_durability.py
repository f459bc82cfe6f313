"""Events acknowledged by the API and lost when redis-server is killed mid-load (AOF durability).

Run from the repository root::

    .venv/bin/python -m bench.bench_durability [--runs 5] [--seconds 4] [--concurrency 8]

A redis-server with ``appendonly yes`` keeps its files in a temporary directory (the same
:class:`service.local_redis.LocalRedis` that ``kairos serve`` supervises) and a real ``kairos
serve`` uses it. Per run, ``--concurrency`` clients send batches of 20 events and single events
(closed loop) to ``POST /v1/events`` and note every id the API answered as ``accepted``; after
``--seconds`` the redis-server gets SIGKILL while requests are in flight, the load goes on for
half a second (those requests fail: not acknowledged), then redis-server is started again from
its append-only file and each acknowledged id is looked up in the person's export
(``GET /v1/profiles/{id}/export``). ``--runs`` runs with ``appendfsync everysec``, then one with
``appendfsync always``.

SIGKILL ends the process, not the machine: what redis-server had written to the file is in the
kernel's page cache and survives even if it was not yet fsynced. ``everysec`` can lose up to about
a second of writes (two when the disk stalls) only when the machine itself goes down; ``always``
fsyncs before answering. Figures go to stdout (a table, then one JSON line per run); progress to
stderr; ``--save`` also writes them to ``bench/results/durability_<date>.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.local_redis import AppendFsync, LocalRedis, redis_server_binary  # noqa: E402
from tests.serve_process import KairosProcess, clean_environ, seed_intent_model  # noqa: E402

BATCH = 20
PEOPLE = 1000  # per run: at most a few dozen events each, far below the retained 500


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def event(run: int, n: int) -> dict[str, Any]:
    return {"event_id": f"r{run}-e{n}", "type": "page_view", "profile_id": f"r{run}-p{n % PEOPLE}",
            "properties": {"url": f"https://shop.example/p/{n % 97}"}}


async def load(base: str, key: str, run: int, *, seconds: float, concurrency: int,
               kill: Callable[[], None]) -> dict[str, Any]:  # fmt: skip
    """Send events until ``seconds`` after ``kill()`` was called plus 0.5 s; acknowledged ids."""
    acked: list[tuple[str, float]] = []
    failed: dict[str, int] = {}
    numbers = itertools.count()
    stop_at = [float("inf")]
    killed_at = [0.0]

    async def client(index: int, http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at[0]:
            size = 1 if index % 4 == 0 else BATCH  # a quarter of the clients send single events
            body = {"events": [event(run, next(numbers)) for _ in range(size)]}
            try:
                answer = await http.post("/v1/events", json=body)
            except httpx.HTTPError as exc:
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
                await asyncio.sleep(0.05)
                continue
            if answer.status_code == 200:
                now = time.monotonic()
                acked.extend((i, now) for i in answer.json()["accepted"])
            else:
                failed[str(answer.status_code)] = failed.get(str(answer.status_code), 0) + 1

    async with httpx.AsyncClient(base_url=base, timeout=10,
                                 headers={"X-API-Key": key}) as http:  # fmt: skip
        tasks = [asyncio.create_task(client(i, http)) for i in range(concurrency)]
        began = time.monotonic()
        await asyncio.sleep(seconds)
        killed_at[0] = time.monotonic()
        await asyncio.to_thread(kill)
        stop_at[0] = time.monotonic() + 0.5
        await asyncio.gather(*tasks)
    before_kill = [t for _, t in acked if t <= killed_at[0]]
    rate = len(before_kill) / max(killed_at[0] - began, 1e-9)
    return {"acked": [i for i, _ in acked], "failed_requests": failed, "acked_per_s": rate}


async def missing(base: str, key: str, acked: list[str]) -> list[str]:
    """The acknowledged ids that the people's exports do not hold."""
    by_person: dict[str, set[str]] = {}
    for event_id in acked:
        run, n = event_id[1:].split("-e")
        by_person.setdefault(f"r{run}-p{int(n) % PEOPLE}", set()).add(event_id)
    lost: list[str] = []
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 headers={"X-API-Key": key}) as http:  # fmt: skip
        async def check(person: str, ids: set[str]) -> None:
            async with gate:
                answer = await http.get(f"/v1/profiles/{person}/export")
            held = ({e["event_id"] for e in answer.json()["events"]}
                    if answer.status_code == 200 else set())
            lost.extend(sorted(ids - held))

        await asyncio.gather(*(check(p, ids) for p, ids in by_person.items()))
    return lost


def wait_answering(base: str, key: str, timeout: float = 60) -> None:
    """Until the API stores events again (its connections found the restarted Redis)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = httpx.post(f"{base}/v1/events", headers={"X-API-Key": key}, timeout=5,
                                json={"events": [{"event_id": f"probe-{time.monotonic_ns()}",
                                                  "type": "page_view", "profile_id": "probe",
                                                  "properties": {"url": "/"}}]})
            if answer.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not store events again after the restart")
        time.sleep(0.2)


def run_once(server: KairosProcess, data: Path, binary: str, run: int, mode: AppendFsync,
             args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    local = LocalRedis(data, binary=binary, appendfsync=mode)
    local.start()
    local.client().config_set("appendfsync", mode)  # a taken-over server keeps its own
    wait_answering(server.base, server.secrets()["site_key"])
    key = server.secrets()["site_key"]
    pid = local.pid
    assert pid is not None

    def kill() -> None:
        os.kill(pid, signal.SIGKILL)

    loaded = asyncio.run(load(server.base, key, run, seconds=args.seconds,
                              concurrency=args.concurrency, kill=kill))  # fmt: skip
    began = time.monotonic()
    restarted = LocalRedis(data, binary=binary, appendfsync=mode)
    restarted.start()
    replay = time.monotonic() - began
    wait_answering(server.base, key)
    lost = asyncio.run(missing(server.base, server.secrets()["admin_key"], loaded["acked"]))
    aof = sum(f.stat().st_size for f in (data / "appendonlydir").iterdir())
    restarted.stop()
    figures = {"run": run, "appendfsync": mode, "acknowledged": len(loaded["acked"]),
               "acked_per_s": round(loaded["acked_per_s"]), "lost": len(lost),
               "lost_seconds": round(len(lost) / max(loaded["acked_per_s"], 1e-9), 3),
               "failed_requests": sum(loaded["failed_requests"].values()),
               "failed_by_kind": loaded["failed_requests"], "restart_s": round(replay, 2),
               "aof_mb": round(aof / 1e6, 1), "lost_examples": lost[:5]}
    progress(f"run {run} ({mode}): {figures['acknowledged']:,} acknowledged, "
             f"{figures['lost']} lost, restart from AOF in {replay:.2f} s")
    return figures


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'run':>3}  {'appendfsync':<11} {'acknowledged':>12} {'acked/s':>8} {'lost':>5} "
            f"{'lost (s)':>8} {'failed req':>10} {'restart s':>9} {'AOF MB':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['run']:>3}  {r['appendfsync']:<11} {r['acknowledged']:>12,} "
                     f"{r['acked_per_s']:>8,} {r['lost']:>5} {r['lost_seconds']:>8.3f} "
                     f"{r['failed_requests']:>10} {r['restart_s']:>9.2f} {r['aof_mb']:>7.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="Runs with appendfsync everysec.")
    parser.add_argument("--seconds", type=float, default=4, help="Load before the SIGKILL.")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--save", action="store_true",
                        help="Also write bench/results/durability_<date>.txt.")
    args = parser.parse_args()
    binary = redis_server_binary()
    if binary is None:
        sys.exit("redis-server is not installed (make system installs it)")

    workdir = Path(tempfile.mkdtemp(prefix="kairos-durability-"))
    data = workdir / "var" / "redis"
    first = LocalRedis(data, binary=binary)
    first.start()
    seed_intent_model(workdir)
    server = KairosProcess(workdir, clean_environ(KAIROS_REDIS_URL=first.url,
                                                  KAIROS_LOG_LEVEL="WARNING"))  # fmt: skip
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    try:
        progress(f"kairos serve on {server.base}, redis-server in {data}")
        server.start()
        modes: list[AppendFsync] = ["everysec"] * args.runs + ["always"]
        for run, mode in enumerate(modes):
            rows.append(run_once(server, data, binary, run, mode, args))
    finally:
        server.stop_quietly()
        LocalRedis(data, binary=binary).stop()
        shutil.rmtree(workdir, ignore_errors=True)

    header = (f"# bench_durability, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} "
              f"cores, load {load_before:.2f} before; {args.seconds:g} s of load "
              f"({args.concurrency} clients, batches of {BATCH} and single events) then "
              "SIGKILL of redis-server, restart from the AOF")
    output = "\n".join([header, table(rows), *(json.dumps(r) for r in rows)]) + "\n"
    sys.stdout.write(output)
    if args.save:
        path = ROOT / "bench" / "results" / f"durability_{datetime.now(UTC):%Y-%m-%d}.txt"
        path.write_text(output)
        progress(f"saved {path}")


if __name__ == "__main__":
    main()
