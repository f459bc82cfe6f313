"""Test apps: their settings, keys and headers (plain helpers; the fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import redis
from fastapi.testclient import TestClient

from service.settings import PACKAGE_ROOT, Settings

SITE_KEY, ADMIN_KEY = "site-test-key-000", "admin-test-key-000"
SERVER_KEY = "server-test-key-000"
IDENTITY_SECRET = "an-identity-secret-of-32-bytes-0"
SITE = {"X-API-Key": SITE_KEY}
SERVER = {"X-API-Key": SERVER_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}
DEMO_CONTENT = PACKAGE_ROOT / "content_pool" / "demo"

AppClient = Callable[..., TestClient]
"""The ``app_client`` fixture: ``app_client(**overrides) -> TestClient``."""


def make_settings(**overrides: Any) -> Settings:
    """Settings of a test app: the test keys, plain logs, no bundled content, and ``overrides``."""
    values: dict[str, Any] = {"site_key": SITE_KEY, "admin_key": ADMIN_KEY,
                              "server_key": SERVER_KEY, "identity_secret": IDENTITY_SECRET,
                              "log_json": False, "content_dir": None}  # fmt: skip
    return Settings(**(values | overrides))


def identity_token(profile_id: str, *, ttl: int = 600, secret: str = IDENTITY_SECRET) -> str:
    """A token as the shop's backend signs it: stdlib only, as in the README."""
    import base64
    import hashlib
    import hmac
    import time

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    expires = str(int(time.time()) + ttl)
    mac = hmac.new(secret.encode(), f"kairos-identity|v1|{profile_id}|{expires}".encode(),
                   hashlib.sha256).digest()
    return f"v1.{b64(profile_id.encode())}.{expires}.{b64(mac)}"


def as_person(profile_id: str, **kwargs: Any) -> dict[str, str]:
    """Headers of a browser of the logged-in ``profile_id``: the site key and its identity."""
    return {**SITE, "X-Kairos-Identity": identity_token(profile_id, **kwargs)}


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
