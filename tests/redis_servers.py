"""Real Redis servers for the test session: a single instance and a 3-master cluster on loopback.

The single instance is the machine's own 127.0.0.1:6379 when it answers, else a ``redis-server``
started on a free port. The cluster is always started here and torn down afterwards. A missing
``redis-server`` binary is an error (the Makefile installs it), never a reason to skip.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(*, cluster: bool = False) -> int:
    """A free loopback port; for a cluster node also its bus port (+10000), so at most 55535."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 45000)
        if _is_free(port) and (not cluster or _is_free(port + 10000)):
            return port
    raise RuntimeError("no free port for redis-server found")


def answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        return bool(redis.Redis(host=host, port=port, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"{name} not found: install Debian's redis-server package (make test does this)"
        )
    return path


@dataclass
class RedisProcess:
    """One redis-server process we started, with its working directory."""

    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Start the server again on the same port and directory.

        It comes back empty unless the test asked for a snapshot (``SAVE``) before stopping it,
        which it then loads, as a Redis with persistence would.
        """
        self.stop()
        self.process = start_redis(self.port, workdir=self.workdir).process

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def start_redis(
    port: int | None = None, *, cluster: bool = False, workdir: Path | None = None
) -> RedisProcess:
    """Start ``redis-server`` on ``port`` (a free one by default) and wait until it answers."""
    port = port or free_port(cluster=cluster)
    workdir = workdir or Path(tempfile.mkdtemp(prefix=f"kairos-redis-{port}-"))
    args = [
        _binary("redis-server"),
        "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(workdir), "--protected-mode", "no", "--loglevel", "warning",
        "--logfile", str(workdir / "redis.log"),
    ]
    if cluster:
        args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", "2000"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while not answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = workdir / "redis.log"
            err = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"redis-server on port {port} did not start: {err}")
        time.sleep(0.05)
    return RedisProcess(port, process, workdir)


@dataclass
class RedisCluster:
    """A running cluster of ``masters`` nodes on loopback ports."""

    nodes: list[RedisProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
            shutil.rmtree(node.workdir, ignore_errors=True)


def start_cluster(masters: int = 3, replicas: int = 0) -> RedisCluster:
    """Start a cluster of ``masters`` (each with ``replicas``) joined by ``redis-cli --cluster``."""
    count = masters * (1 + replicas)
    cluster = RedisCluster([start_redis(cluster=True) for _ in range(count)])
    try:
        subprocess.run(
            [_binary("redis-cli"), "--cluster", "create",
             *[f"127.0.0.1:{n.port}" for n in cluster.nodes],
             "--cluster-replicas", str(replicas), "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        deadline = time.monotonic() + 30
        while True:
            infos = [redis.Redis(port=n.port).cluster("info") for n in cluster.nodes]
            states = [info["cluster_state"] for info in infos]
            known = [int(info["cluster_known_nodes"]) for info in infos]
            if all(s == "ok" for s in states) and all(k == count for k in known):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster did not become ok: {states}")
            time.sleep(0.1)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextmanager
def single_redis() -> Iterator[str]:
    """Yield the URL of a single Redis: 127.0.0.1:6379 if it answers, else one started here."""
    if os.environ.get("KAIROS_TEST_REDIS_URL"):
        yield os.environ["KAIROS_TEST_REDIS_URL"]
        return
    if answers(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    server = start_redis()
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@contextmanager
def cluster_redis() -> Iterator[str]:
    cluster = start_cluster()
    try:
        yield cluster.url
    finally:
        cluster.stop()
