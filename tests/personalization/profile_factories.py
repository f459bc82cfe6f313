"""Plain factories for events and profile services in the profile tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from personalization.clock import FrozenClock
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.events import Event
from personalization.profiles.profile import ProfilePolicy
from personalization.profiles.service import ProfileService
from tests.conftest import Backend
from tests.factories import make_store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_counter = iter(range(1_000_000_000))


def make_event(kind: str, who: str = "u1", *, anonymous: bool = False, **fields: Any) -> Event:
    """An event of type ``kind`` about ``who`` (a known id, or anonymous); fields override."""
    raw: dict[str, Any] = {
        "event_id": f"e{next(_counter)}",
        "type": kind,
        ("anonymous_id" if anonymous else "profile_id"): who,
    }
    raw.update(fields)
    return parse_event(raw)


def purchase(who: str = "u1", value: float = 50.0, *, category: str = "boots",
             **fields: Any) -> Event:
    order = f"o{next(_counter)}"
    props = {"order_id": order, "value": value, "currency": "EUR",
             "items": [{"product_id": "sku-1", "category": category}]}
    return make_event("purchase", who, properties=props, **fields)


def make_service(backend: Backend, clock: FrozenClock | None = None,
                 policy: ProfilePolicy | None = None, **options: Any) -> ProfileService:
    clock = clock or FrozenClock(T0)
    return ProfileService(make_store(backend, **options), clock=clock, policy=policy)
