"""Start what a benchmark measures: a dedicated Redis and ``kairos serve`` as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.redis_servers import free_port, start_redis  # noqa: E402

SITE_KEY = "bench-site-key"
ADMIN_KEY = "bench-admin-key"


@dataclass
class Server:
    host: str
    port: int
    redis_url: str
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def dedicated_redis() -> Iterator[str]:
    server = start_redis()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def kairos(redis_url: str | None, *, workers: int = 2, env: dict[str, str] | None = None,
           ready_timeout: float = 180) -> Iterator[Server]:
    """``kairos serve`` on a free loopback port, ready (``/readyz`` 200) before it is yielded."""
    port = free_port()
    environ = {**os.environ, "KAIROS_SITE_KEY": SITE_KEY, "KAIROS_ADMIN_KEY": ADMIN_KEY,
               "KAIROS_LOG_LEVEL": "WARNING", **(env or {})}
    if redis_url:
        environ["KAIROS_REDIS_URL"] = redis_url
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/kairos"), "serve", "--port", str(port), "--workers", str(workers)],
        env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )
    server = Server("127.0.0.1", port, redis_url or "", process)
    deadline = time.monotonic() + ready_timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"kairos serve exited with {process.returncode}")
            try:
                if httpx.get(server.base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("kairos serve did not become ready")
            time.sleep(0.25)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


__all__ = ["ADMIN_KEY", "SITE_KEY", "Server", "dedicated_redis", "free_port", "kairos"]
