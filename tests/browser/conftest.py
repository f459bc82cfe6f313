"""A real ``kairos serve`` on a free loopback port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class Server:
    url: str
    site_key: str
    admin_key: str

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.admin_key}, timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def kairos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``kairos serve`` as a subprocess: in-process store, no holdout, the hashing encoder."""
    port = free_port()
    home = tmp_path_factory.mktemp("kairos-server")
    env = {
        **os.environ,
        "KAIROS_SITE_KEY": "site-browser-test",
        "KAIROS_ADMIN_KEY": "admin-browser-test",
        "KAIROS_SESSION_SECRET": "browser-test-secret",
        "KAIROS_HOLDOUT_SHARE": "0",
        "KAIROS_INTENT_ENCODER": "hashing",
        # The hashing model trained once per machine (shared with tests/service), not per run.
        "KAIROS_INTENT_MODEL_DIR": str(Path(__file__).resolve().parents[2] / ".cache"
                                       / "intent-models-hashing"),
        "KAIROS_LOG_LEVEL": "WARNING",
    }
    env.pop("KAIROS_REDIS_URL", None)
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"kairos exited: {(home / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"kairos not ready: {(home / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)
        yield Server(url, env["KAIROS_SITE_KEY"], env["KAIROS_ADMIN_KEY"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# Module scope: Playwright's sync API keeps an event loop running in the main thread while it
# is open, which async tests (pytest-asyncio) that run after the browser tests cannot share.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
