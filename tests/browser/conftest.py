"""A real ``kairos serve`` on a free loopback port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Playwright, sync_playwright

from service.app import create_app
from service.settings import Settings
from tests.http_servers import wait_ready

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
MODEL_CACHE = ROOT / ".cache" / "intent-models-hashing"

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
def kairos_server() -> Iterator[Server]:
    """A real Kairos over HTTP (uvicorn in a thread): in-process store, no holdout, the intent
    model with the hashing encoder (trained once per machine into the git-ignored cache)."""
    port = free_port()
    settings = Settings(
        site_key="site-browser-test", admin_key="admin-browser-test",
        session_secret="browser-test-secret", holdout_share=0, intent_encoder="hashing",
        intent_model_dir=MODEL_CACHE, log_level="WARNING", log_json=False,
    )  # fmt: skip
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="kairos-test-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, timeout=60, gone=lambda: None if thread.is_alive() else "thread ended")
        yield Server(url, "site-browser-test", "admin-browser-test")
    finally:
        server.should_exit = True
        thread.join(timeout=20)


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
