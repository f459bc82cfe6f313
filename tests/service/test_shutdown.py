"""Graceful shutdown: SIGTERM while event batches are in flight.

``kairos serve`` (uvicorn, 2 workers, Redis) stops accepting, lets the requests it has finish and
exits; every request answered 200 had its events stored, and none is cut off mid-way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import redis

from personalization.store.keys import Keys
from tests.http_servers import wait_ready
from tests.redis_servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SITE_KEY, ADMIN_KEY, SERVER_KEY = "site-shutdown", "admin-shutdown", "server-shutdown"


def batch(person: str, n: int) -> dict[str, object]:
    return {"events": [{"event_id": f"{person}-{i}", "type": "page_view", "profile_id": person,
                        "properties": {"url": f"https://shop.example/p/{i}"}}
                       for i in range(n)]}  # fmt: skip


def test_sigterm_lets_in_flight_requests_finish(redis_url: str) -> None:
    port = free_port()
    prefix = f"sd{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KAIROS_REDIS_URL": redis_url, "KAIROS_REDIS_PREFIX": prefix,
           "KAIROS_SITE_KEY": SITE_KEY, "KAIROS_ADMIN_KEY": ADMIN_KEY,
           "KAIROS_SERVER_KEY": SERVER_KEY,
           "KAIROS_IDENTITY_SECRET": "shutdown-identity-secret-0000",
           "KAIROS_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout=120, gone=lambda: None if server.poll() is None
                   else server.stderr.read().decode()[-2000:])  # type: ignore[union-attr]

        signalled: list[float] = []

        async def load() -> list[tuple[str, int | str, float]]:
            async with httpx.AsyncClient(base_url=base, timeout=30,
                                         headers={"X-API-Key": SERVER_KEY}) as client:
                async def send(n: int) -> tuple[str, int | str, float]:
                    person = f"sd-{n}"
                    try:
                        answer = await client.post("/v1/events", json=batch(person, 300))
                        return person, answer.status_code, time.monotonic()
                    except httpx.HTTPError as exc:
                        return person, type(exc).__name__, time.monotonic()

                tasks = [asyncio.create_task(send(n)) for n in range(24)]
                await asyncio.sleep(0.15)  # requests are being served...
                server.send_signal(signal.SIGTERM)  # ...when the stop comes
                signalled.append(time.monotonic())
                return await asyncio.gather(*tasks)

        outcomes = asyncio.run(load())
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    answered = [person for person, status, _ in outcomes if status == 200]
    finished_after_stop = [p for p, status, at in outcomes if status == 200 and at > signalled[0]]
    assert finished_after_stop, f"no request was in flight at SIGTERM: {outcomes}"
    # Whatever was answered 200 is stored completely; nothing else answered but a refusal to
    # connect (requests that arrived after the listener closed).
    assert all(status in (200, "ConnectError") for _, status, _ in outcomes), outcomes
    conn = redis.Redis.from_url(redis_url)
    keys = Keys(prefix)
    for person in answered:
        assert conn.xlen(keys.of_profile(person, "events")) == 300, person
    for key in conn.scan_iter(match=f"{prefix}:*"):
        conn.delete(key)
