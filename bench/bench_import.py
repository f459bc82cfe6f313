"""Import throughput and memory: generated CRM profile rows streamed into Redis.

Run from the repository root::

    .venv/bin/python bench/bench_import.py [--rows 1000000] [--batch 500] [--format csv] \\
        [--redis-url redis://...] [--tracemalloc] [--json bench/results/import.json]

Generates ``--rows`` CRM rows (customer id, e-mail, first name, birthday, postcode, language,
country, two consent columns, created_at) lazily, in 64 KiB chunks, so the file never exists in
memory or on disk, and imports them with :class:`personalization.profiles.importing.Importer` into a
dedicated ``redis-server`` (or ``--redis-url``). Measured: rows per second (wall clock, parsing
and validation included), the process's resident memory over the run (sampled every chunk: a flat
curve is bounded memory), optionally the Python heap peak (``--tracemalloc``, which slows the run
about twofold), and Redis memory per imported profile. A second pass over the same rows measures
the idempotent re-run (everything ``skipped``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._server import dedicated_redis  # noqa: E402
from personalization.profiles.importing import Format, Importer, ImportSummary  # noqa: E402
from personalization.store.redis_client import connect  # noqa: E402
from personalization.store.redis_store import RedisStore  # noqa: E402

console = Console()
HEADER = ("customer_id,email,first_name,birthday,postcode,language,country,consent_email,"
          "consent_personalisation,created_at\n")  # fmt: skip
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE / 1e6


def row(i: int, fmt: Format) -> str:
    values = (f"C{i:08d}", f"c{i}@example.com", f"Name{i % 997}",
              f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}", f"{10000 + i % 89999}",
              ("de", "en", "fr")[i % 3], ("DE", "AT", "CH")[i % 3], ("yes", "no")[i % 2],
              ("true", "false", "")[i % 3], "2024-03-01T10:00:00Z")  # fmt: skip
    if fmt == "csv":
        return ",".join(values) + "\n"
    keys = HEADER.strip().split(",")
    return json.dumps(dict(zip(keys, values, strict=True))) + "\n"


def generate(rows: int, fmt: Format, chunk_bytes: int = 1 << 16) -> Iterator[bytes]:
    parts: list[str] = [HEADER] if fmt == "csv" else []
    size = len(HEADER) if fmt == "csv" else 0
    for i in range(rows):
        text = row(i, fmt)
        parts.append(text)
        size += len(text)
        if size >= chunk_bytes:
            yield "".join(parts).encode()
            parts, size = [], 0
    if parts:
        yield "".join(parts).encode()


async def chunks(rows: int, fmt: Format) -> AsyncIterator[bytes]:
    for chunk in generate(rows, fmt):
        yield chunk


async def run_pass(store: RedisStore, rows: int, fmt: Format, batch: int, label: str
                   ) -> tuple[ImportSummary, float, list[tuple[int, float]]]:  # fmt: skip
    importer = Importer(store, batch_size=batch)
    samples: list[tuple[int, float]] = []
    progress = Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(),
                        TextColumn("{task.completed:,.0f}/{task.total:,.0f} rows"),
                        TextColumn("{task.fields[rate]:,.0f} rows/s"), TimeRemainingColumn(),
                        console=console)  # fmt: skip
    started = time.perf_counter()
    with progress:
        task = progress.add_task(label, total=rows, rate=0.0)

        def on_progress(_: int, read: int) -> None:
            elapsed = time.perf_counter() - started
            progress.update(task, completed=read, rate=read / elapsed if elapsed else 0.0)
            if not samples or read - samples[-1][0] >= rows / 50:
                samples.append((read, rss_mb()))

        summary = await importer.run("profiles", chunks(rows, fmt), fmt, on_progress=on_progress)
    return summary, time.perf_counter() - started, samples


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    store = RedisStore(connect(url, timeout=30), prefix="benchimport")
    redis = store.redis
    await redis.flushdb()
    used_before = int((await redis.info("memory"))["used_memory"])
    baseline = rss_mb()
    if args.tracemalloc:
        tracemalloc.start()
    first, seconds, samples = await run_pass(store, args.rows, args.format, args.batch, "import")
    heap_peak = tracemalloc.get_traced_memory()[1] / 1e6 if args.tracemalloc else None
    if args.tracemalloc:
        tracemalloc.stop()
    used_after = int((await redis.info("memory"))["used_memory"])
    assert first.created == args.rows and first.rejected == 0, first.as_dict()
    seconds_again = float("nan")
    if args.rerun:
        again, seconds_again, _ = await run_pass(store, args.rows, args.format, args.batch,
                                                 "re-run")  # fmt: skip
        assert again.skipped == args.rows and again.created == again.updated == 0, again.as_dict()
    await redis.flushdb()
    await store.close()
    tenth = next((mb for read, mb in samples if read >= args.rows // 10), samples[0][1])
    return {
        "rows": args.rows, "format": args.format, "batch": args.batch,
        "seconds": round(seconds, 1), "rows_per_second": round(args.rows / seconds),
        "rerun_seconds": round(seconds_again, 1) if args.rerun else None,
        "rerun_rows_per_second": round(args.rows / seconds_again) if args.rerun else None,
        "rss_start_mb": round(baseline, 1), "rss_at_10pct_mb": round(tenth, 1),
        "rss_end_mb": round(samples[-1][1], 1),
        "rss_max_mb": round(max(mb for _, mb in samples), 1),
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1),
        "python_heap_peak_mb": round(heap_peak, 1) if heap_peak is not None else None,
        "redis_bytes_per_profile": round((used_after - used_before) / args.rows),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--redis-url", default=None, help="Use this Redis (it is FLUSHED).")
    parser.add_argument("--tracemalloc", action="store_true", help="Also trace the heap peak.")
    parser.add_argument("--no-rerun", dest="rerun", action="store_false",
                        help="Skip the idempotent second pass.")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "import.json")
    args = parser.parse_args()
    if args.redis_url:
        result = asyncio.run(measure(args.redis_url, args))
    else:
        with dedicated_redis() as url:
            result = asyncio.run(measure(url, args))
    result["load_average"] = [round(x, 1) for x in os.getloadavg()]
    table = Table("measure", "value", title="import of generated CRM profile rows into Redis")
    for key, value in result.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
    console.print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"written to {args.json}")


if __name__ == "__main__":
    main()
