"""What a browser (the public site key) may report, event by event."""

from __future__ import annotations

from typing import Any

import pytest

from personalization.profiles import browser_events
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.events import EVENT_TYPES

PROPERTIES: dict[str, dict[str, Any]] = {
    "product_view": {"product_id": "p1"}, "search": {"query": "zelt"},
    "add_to_cart": {"product_id": "p1"}, "remove_from_cart": {"product_id": "p1"},
    "purchase": {"order_id": "o1", "value": 1, "currency": "EUR",
                 "items": [{"product_id": "p1", "category": "zelte"}]},
    "consent_update": {"consents": {"email": True}},
}


def event(kind: str, **fields: Any) -> Any:
    extra = {"name": "x"} if kind == "custom" else {}
    return parse_event({"event_id": "e1", "type": kind, "properties": PROPERTIES.get(kind, {}),
                        **extra, **fields})


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_the_anonymous_visitor_reports_behaviour_only(kind: str) -> None:
    reason = browser_events.refusal(event(kind, anonymous_id="a-1"), None)
    if kind in browser_events.BEHAVIOUR:
        assert reason is None
    else:
        assert reason is not None


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_a_verified_person_reports_behaviour_logins_and_own_consent(kind: str) -> None:
    mine = browser_events.refusal(event(kind, profile_id="me", anonymous_id="a-1"), "me")
    theirs = browser_events.refusal(event(kind, profile_id="you"), "me")
    assert (mine is None) == (kind in browser_events.BEHAVIOUR | browser_events.OWN)
    assert theirs is not None


def test_an_unproven_profile_id_and_attributes_need_the_server() -> None:
    assert "X-Kairos-Identity" in (browser_events.refusal(event("page_view", profile_id="p"),
                                                          None) or "")
    with_attributes = event("login", profile_id="me",
                            properties={"attributes": {"first_name": "Mallory"}})
    assert "server key" in (browser_events.refusal(with_attributes, "me") or "")
    assert browser_events.refusal(event("consent_update", anonymous_id="a-1"), "me")
