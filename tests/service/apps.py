"""Test apps: their settings, keys and headers (plain helpers; the fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import redis
from fastapi.testclient import TestClient

from service.settings import PACKAGE_ROOT, Settings

SITE_KEY, ADMIN_KEY = "site-test-key-000", "admin-test-key-000"
SITE = {"X-API-Key": SITE_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}
DEMO_CONTENT = PACKAGE_ROOT / "content_pool" / "demo"

AppClient = Callable[..., TestClient]
"""The ``app_client`` fixture: ``app_client(**overrides) -> TestClient``."""


def make_settings(**overrides: Any) -> Settings:
    """Settings of a test app: the test keys, plain logs, no bundled content, and ``overrides``."""
    values: dict[str, Any] = {"site_key": SITE_KEY, "admin_key": ADMIN_KEY, "log_json": False,
                              "content_dir": None}  # fmt: skip
    return Settings(**(values | overrides))


def drop_prefix(redis_url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` on the Redis at ``redis_url``."""
    conn = redis.Redis.from_url(redis_url)
    try:
        keys = list(conn.scan_iter(match=f"{prefix}:*"))
        if keys:
            conn.delete(*keys)
    finally:
        conn.close()


def crm_rows(count: int, start: int = 0) -> Iterator[bytes]:
    """A CRM export with German yes/no values, generated row by row (a streamed body)."""
    yield b"customer_id;first_name;consent_personalisation;consent_email\n"
    for i in range(start, start + count):
        yield f"C{i};Name{i};{'ja' if i % 2 else 'nein'};ja\n".encode()


INTEGRATION: dict[str, Any] = {
    "intent_encoder": "hashing", "max_body_bytes": 50_000_000,
    "link_secret": "a-link-secret-of-32-bytes-000000", "definitions_refresh_seconds": 0,
}  # fmt: skip
"""The integration routes' apps: link tokens on, definitions read fresh, large uploads."""
