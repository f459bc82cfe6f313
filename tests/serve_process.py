"""``kairos serve`` as a real process in a working directory of its own (its ``var/`` fresh).

Used by the restart tests and the durability benchmark: start it, stop it with SIGTERM, or kill
its whole process group with SIGKILL as a crash would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.http_servers import wait_ready
from tests.redis_servers import free_port

ROOT = Path(__file__).resolve().parents[1]
MODEL_CACHE = ROOT / ".cache" / "intent-models-hashing"
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")


def clean_environ(**overrides: str) -> dict[str, str]:
    """This process's environment without any ``KAIROS_*`` (a user's shell), plus ``overrides``;
    the hashing intent encoder keeps starts fast."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
    env.update({"PYTHONPATH": str(ROOT), "KAIROS_INTENT_ENCODER": "hashing",
                "KAIROS_LOG_LEVEL": "INFO", "KAIROS_HOLDOUT_SHARE": "0"})
    env.update(overrides)
    return env


def seed_intent_model(workdir: Path) -> None:
    """Copy the trained hashing model into ``workdir/var/models`` (else the first start trains)."""
    target = workdir / "var" / "models"
    if MODEL_CACHE.exists() and not target.exists():
        shutil.copytree(MODEL_CACHE, target)


@dataclass
class KairosProcess:
    """One ``kairos serve`` in ``workdir``, in a session of its own (its group is its pid)."""

    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"kairos-{self.starts}.log"

    def start(self, *, timeout: float = 120) -> None:
        self.starts += 1
        log = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--port", str(self.port)],
            cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=log, start_new_session=True,
        )  # fmt: skip
        log.close()
        process = self.process
        wait_ready(self.base, timeout=timeout, gone=lambda: None if process.poll() is None
                   else f"exit {process.returncode}: {self.log.read_text()[-3000:]}")

    def terminate(self, *, timeout: float = 60) -> int:
        """SIGTERM to kairos alone (as a service manager sends it); its exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill_group(self) -> None:
        """SIGKILL to kairos and every process of its session, as a crash of the app."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop_quietly(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def secrets(self) -> dict[str, str]:
        data: dict[str, str] = json.loads((self.workdir / "var" / "secrets.json").read_text())
        return data

    def client(self, role: str = "admin") -> httpx.Client:
        """A client with the ``role``'s key from ``var/secrets.json`` and a browser's user agent
        (a bot's decisions are not recorded)."""
        key = self.secrets()[f"{role}_key"]
        return httpx.Client(base_url=self.base, timeout=30,
                            headers={"X-API-Key": key, "User-Agent": BROWSER})


def redis_pid(workdir: Path) -> int | None:
    """The process id of the local redis-server of ``workdir`` (from its pid file)."""
    try:
        return int((workdir / "var" / "redis" / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
