"""Start what a benchmark measures: a dedicated Redis and ``kairos serve`` as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.http_servers import wait_ready  # noqa: E402
from tests.redis_servers import free_port, start_redis  # noqa: E402

SITE_KEY = "bench-site-key"
SERVER_KEY = "bench-server-key"
"""The shop's backend: names customers by profile_id (the site key needs a signed identity)."""
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
    """``kairos serve`` on a free loopback port, ready (``/readyz`` 200) before it is yielded.

    The server runs in its own session (its process id is the session id, so its workers can be
    found and measured) and logs to a file: a pipe nobody reads would fill and block it.
    """
    port = free_port()
    log_path = Path(tempfile.gettempdir()) / f"kairos-bench-{port}.log"
    environ = {**os.environ, "KAIROS_SITE_KEY": SITE_KEY, "KAIROS_ADMIN_KEY": ADMIN_KEY,
               "KAIROS_SERVER_KEY": SERVER_KEY, "KAIROS_LOG_LEVEL": "WARNING", **(env or {})}
    if redis_url:
        environ["KAIROS_REDIS_URL"] = redis_url
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/kairos"), "serve", "--port", str(port), "--workers", str(workers)],
        env=environ, stdout=subprocess.DEVNULL, stderr=log_file, cwd=ROOT,
        start_new_session=True,
    )
    server = Server("127.0.0.1", port, redis_url or "", process)
    try:
        wait_ready(server.base, timeout=ready_timeout, poll=0.25, gone=lambda: None
                   if process.poll() is None else f"kairos serve exited with "
                   f"{process.returncode}: {log_path.read_text()[-2000:]}")
        yield server
    finally:
        stop_session(process, timeout=20)
        log_file.close()


@contextmanager
def kairos_worker(redis_url: str, prefix: str) -> Iterator[subprocess.Popen[bytes]]:
    """One ``kairos worker`` (reactions and publishing) in its own session, up when yielded."""
    env = {**os.environ, "KAIROS_REDIS_URL": redis_url, "KAIROS_REDIS_PREFIX": prefix,
           "KAIROS_LOG_LEVEL": "WARNING", "KAIROS_CONTENT_DIR": ""}
    process = subprocess.Popen([str(ROOT / ".venv/bin/kairos"), "worker", "--progress-every",
                                "3600"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # its first line says it is up
        if b"publishing to" not in first:
            raise RuntimeError(f"kairos worker did not start: {first!r}")
        yield process
    finally:
        stop_session(process, timeout=30)


def stop_session(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM to the process's session (uvicorn's workers too); SIGKILL after ``timeout``."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


__all__ = ["ADMIN_KEY", "SERVER_KEY", "SITE_KEY", "Server", "dedicated_redis", "free_port",
           "kairos", "kairos_worker", "stop_session"]
