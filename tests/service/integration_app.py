"""The app as the integration route tests build it: real lifespan, in-process store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service.settings import Settings

SITE_KEY, ADMIN_KEY = "site-test-key-000", "admin-test-key-000"
ADMIN = {"X-API-Key": ADMIN_KEY}


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "site_key": SITE_KEY, "admin_key": ADMIN_KEY, "log_json": False,
        "intent_encoder": "hashing", "content_dir": None, "max_body_bytes": 50_000_000,
        "link_secret": "a-link-secret-of-32-bytes-000000", "definitions_refresh_seconds": 0,
    }  # fmt: skip
    values.update(overrides)
    return Settings(**values)


def crm_rows(count: int, start: int = 0) -> Iterator[bytes]:
    """A CRM export with German yes/no values, generated row by row (a streamed body)."""
    yield b"customer_id;first_name;consent_personalisation;consent_email\n"
    for i in range(start, start + count):
        yield f"C{i};Name{i};{'ja' if i % 2 else 'nein'};ja\n".encode()
