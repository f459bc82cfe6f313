"""A small open-loop HTTP/1.1 load generator on raw asyncio streams.

Requests are sent at fixed times (``rate`` per second) over a pool of keep-alive connections;
latency is measured from the *scheduled* send time, so a slow server cannot hide its queueing
(no coordinated omission). Kept dependency-free and cheap so it leaves CPU to the server.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}",
                 f"Content-Length: {len(self.body)}"]
        if self.body:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Result:
    rate: float
    seconds: float
    sent: int
    latencies_ms: np.ndarray
    errors: int
    statuses: dict[int, int]

    def summary(self) -> dict[str, float]:
        lat = self.latencies_ms
        ok = len(lat)
        return {
            "target_rps": self.rate,
            "achieved_rps": ok / self.seconds if self.seconds else 0.0,
            "p50_ms": float(np.percentile(lat, 50)) if ok else float("nan"),
            "p95_ms": float(np.percentile(lat, 95)) if ok else float("nan"),
            "p99_ms": float(np.percentile(lat, 99)) if ok else float("nan"),
            "errors": float(self.errors),
            "sent": float(self.sent),
        }


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def run(
    host: str,
    port: int,
    make_request: Callable[[int], Request],
    *,
    rate: float,
    seconds: float,
    connections: int = 64,
    timeout: float = 5.0,
    drain: float = 10.0,
    on_progress: Callable[[int], None] | None = None,
) -> Result:
    """Send ``rate`` requests per second for ``seconds``; ``make_request(i)`` builds request i."""
    total = int(rate * seconds)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    hostname = f"{host}:{port}"

    async def connection() -> None:
        nonlocal errors
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while True:
            item = await queue.get()
            if item is None:
                break
            index, scheduled = item
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(make_request(index).encode(hostname))
                status = await asyncio.wait_for(_read_response(reader), timeout)
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 500 or status == 429:
                    errors += 1
                else:
                    latencies.append((time.perf_counter() - scheduled) * 1000)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
            if on_progress is not None:
                on_progress(1)
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    start = time.perf_counter()
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, scheduled))
    for _ in workers:
        queue.put_nowait(None)
    # An overloaded server is given ``drain`` seconds to answer what was sent; what is still
    # unanswered then counts as an error, as a client's time-out would.
    done, pending = await asyncio.wait(workers, timeout=drain)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    elapsed = time.perf_counter() - start
    answered = len(latencies) + errors
    errors += total - answered
    return Result(rate, min(elapsed, seconds + drain), total, np.array(latencies), errors,
                  statuses)


def cycle_requests(requests: Sequence[Request]) -> Callable[[int], Request]:
    pool = list(requests)
    it = itertools.cycle(pool)
    return lambda _i: next(it)
