"""A local ``redis-server`` that ``kairos serve`` starts, watches and stops on one machine.

It keeps its data in an append-only file under ``var/redis/`` (``appendonly yes``, fsync every
second by default) and listens on a unix socket there only (no TCP port, socket mode 0700), so
nothing but this user's processes reach it. A server left running by an earlier ``kairos serve``
(killed with SIGKILL) answers on the same socket and is taken over rather than started twice.
:meth:`LocalRedis.stop` sends ``SHUTDOWN``, which writes and syncs the append-only file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

AppendFsync = Literal["everysec", "always", "no"]
_MAX_SOCKET_PATH = 104  # sun_path is 108 bytes on Linux, 104 on macOS


class LocalRedisError(RuntimeError):
    """The local redis-server could not be started (the message says why)."""


def redis_server_binary() -> str | None:
    """The ``redis-server`` on the ``PATH`` (``make system`` installs it), or ``None``."""
    return shutil.which("redis-server")


class LocalRedis:
    """One ``redis-server`` with its data, socket, pid file and log in ``directory``."""

    def __init__(self, directory: Path, *, binary: str, appendfsync: AppendFsync = "everysec",
                 say: Callable[[str], None] = lambda line: None) -> None:  # fmt: skip
        self.directory = directory.resolve()
        self.binary = binary
        self.appendfsync = appendfsync
        self._say = say
        self._process: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def socket(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pid(self) -> int | None:
        """The server's process id (ours or the one taken over), once started."""
        return self._pid

    def start(self, *, timeout: float = 30) -> bool:
        """Start the server, or take over one that already answers on the socket; return once
        it answers. Returns whether it was taken over. Raises :class:`LocalRedisError`."""
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise LocalRedisError(
                f"the socket path {self.socket} is too long for a unix socket; run Kairos from a "
                "shorter directory or set KAIROS_REDIS_URL")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        with self._lock:
            if self.answers():
                self._process, self._pid = None, self._pid_from_file()
                return True
            self._spawn(timeout)
            return False

    def watch(self, *, every: float = 1.0) -> None:
        """Restart the server from its files whenever it exits, until :meth:`stop`."""
        self._watcher = threading.Thread(target=self._watch, args=(every,),
                                         name="kairos-redis-watch", daemon=True)  # fmt: skip
        self._watcher.start()

    def stop(self, *, timeout: float = 30) -> None:
        """``SHUTDOWN`` (the append-only file is written and synced), then wait for the exit."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        with self._lock:
            try:
                self.client().shutdown()
            except redis.RedisError:
                pass  # already gone
            deadline = time.monotonic() + timeout
            while self._alive():
                if time.monotonic() > deadline:
                    self._say(f"redis-server (pid {self._pid}) did not stop in {timeout:.0f} s; "
                              "killing it")
                    self._kill()
                    break
                time.sleep(0.05)
            if self._process is not None:
                self._process.wait()

    # -- inside ------------------------------------------------------------------------------
    def _spawn(self, timeout: float) -> None:
        self.socket.unlink(missing_ok=True)  # left by a server that was killed
        args = [
            self.binary, "--port", "0", "--bind", "127.0.0.1", "--protected-mode", "yes",
            "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.directory), "--appendonly", "yes",
            "--appendfsync", self.appendfsync, "--save", "",
            "--pidfile", str(self.directory / "redis.pid"),
            "--logfile", str(self.directory / "redis.log"), "--loglevel", "notice",
        ]  # fmt: skip
        # Its own session: the Ctrl-C of a terminal reaches kairos, which stops the server last,
        # after the app has finished the requests in hand.
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        self._pid = self._process.pid
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._kill()
                raise LocalRedisError(f"redis-server did not start in {self.directory}: "
                                      f"{self._log_tail()}")
            time.sleep(0.05)

    def _watch(self, every: float) -> None:
        while not self._stopping.wait(every):
            with self._lock:
                if self._stopping.is_set() or self._alive():
                    continue
                code = self._process.returncode if self._process is not None else None
                self._say(f"redis-server (pid {self._pid}) exited"
                          + (f" with {code}" if code is not None else "")
                          + f"; restarting it from {self.directory}")
                try:
                    self._spawn(timeout=60)
                    self._say(f"redis-server back (pid {self._pid})")
                except LocalRedisError as exc:
                    self._say(str(exc))

    def _alive(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        if self._pid is None:
            return self.answers()
        try:
            os.kill(self._pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        elif self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def client(self) -> redis.Redis:
        """A client on the socket (for commands such as CONFIG or INFO)."""
        # No retries: a socket nobody listens on must answer "no" at once, not after backoffs.
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2,
                           socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))  # fmt: skip

    def answers(self) -> bool:
        """Whether a redis-server answers on the socket."""
        if not self.socket.exists():
            return False
        client = self.client()
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def _pid_from_file(self) -> int | None:
        try:
            return int((self.directory / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _log_tail(self) -> str:
        try:
            return (self.directory / "redis.log").read_text(errors="replace")[-1500:]
        except OSError:
            return "(no log)"
