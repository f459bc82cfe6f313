"""Event validation: typed properties per type, and batch reports that name the bad events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from personalization.profiles.event_parsing import event_document, parse_event, parse_events
from personalization.profiles.events import Purchase


def test_each_type_gets_its_model_and_properties() -> None:
    event = parse_event({
        "event_id": "e1", "type": "purchase", "profile_id": "u1",
        "properties": {"order_id": "o1", "value": 99.5, "currency": "EUR",
                       "items": [{"product_id": "p1", "category": "Boots "}]},
    })
    assert isinstance(event, Purchase)
    assert event.properties.items[0].category == "boots"


@pytest.mark.parametrize("raw", [
    {"event_id": "e1", "type": "purchase", "profile_id": "u1",
     "properties": {"order_id": "o1", "value": 10, "currency": "EUR", "items": []}},
    {"event_id": "e1", "type": "purchase", "profile_id": "u1",
     "properties": {"order_id": "o1", "value": -1, "currency": "EUR",
                    "items": [{"product_id": "p", "category": "c"}]}},
    {"event_id": "e1", "type": "search", "profile_id": "u1", "properties": {}},
    {"event_id": "e1", "type": "page_view"},
    {"event_id": "e1", "type": "page_view", "profile_id": "a{b}"},
    {"event_id": "e1", "type": "page_view", "profile_id": "u1", "timestamp": "2026-01-01T10:00"},
    {"event_id": "e1", "type": "custom", "profile_id": "u1"},
    {"event_id": "e1", "type": "consent_update", "profile_id": "u1",
     "properties": {"consents": {"telepathy": True}}},
    {"event_id": "e1", "type": "page_view", "profile_id": "u1", "surprise": 1},
])
def test_invalid_events_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_event(raw)


def test_batch_reports_index_id_and_reason_of_each_bad_event() -> None:
    good, bad = parse_events([
        {"event_id": "ok-1", "type": "login", "profile_id": "u1"},
        {"event_id": "bad-1", "type": "teleport", "profile_id": "u1"},
        {"event_id": "ok-2", "type": "page_view", "anonymous_id": "a1"},
        {"event_id": "bad-2", "type": "search", "profile_id": "u1", "properties": {"q": "x"}},
        "not an event",
    ])
    assert [e.event_id for e in good] == ["ok-1", "ok-2"]
    assert [(p.index, p.event_id) for p in bad] == [(1, "bad-1"), (3, "bad-2"), (4, None)]
    assert "custom" in bad[0].reason
    assert "query" in bad[1].reason


def test_a_timestamp_in_the_future_beyond_clock_skew_is_refused_with_the_reason() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def at(delta: timedelta) -> dict[str, object]:
        return {"event_id": f"e{delta.total_seconds():.0f}", "type": "login", "profile_id": "u1",
                "timestamp": (now + delta).isoformat()}

    good, bad = parse_events([at(timedelta(days=-243)), at(timedelta(minutes=4)),
                              at(timedelta(days=3, hours=1))], now=now)
    assert [e.event_id for e in good] == ["e-20995200", "e240"]
    assert good[1].at(now) == now  # a client clock a little fast: it happened now
    (late,) = bad
    assert (late.index, late.event_id) == (2, "e262800")
    assert late.reason == (
        "timestamp: 2026-03-05T10:00:00+0000 is 3 days in the future (at most 5 minutes of clock "
        "skew is allowed): send the time the event happened, with its time zone, or leave it out "
        "for now")
    assert parse_events([at(timedelta(days=3))])[1] == []  # without a clock: not checked


def test_merges_only_when_both_ids_differ() -> None:
    both = parse_event({"event_id": "e", "type": "login", "profile_id": "u1", "anonymous_id": "a"})
    same = parse_event({"event_id": "e", "type": "login", "profile_id": "u1", "anonymous_id": "u1"})
    assert both.merges == ("a", "u1") and both.subject == "u1"
    assert same.merges is None


def test_stored_document_reads_back_as_the_same_event() -> None:
    event = parse_event({
        "event_id": "e1", "type": "add_to_cart", "anonymous_id": "a1",
        "timestamp": "2026-01-01T10:00:00+01:00", "situation": {"device": "mobile"},
        "properties": {"product_id": "p1", "quantity": 2, "price": 9.5},
    })
    assert parse_event(event_document(event)) == event


def test_situation_values_keep_their_type() -> None:
    situation = {"returning": True, "hour": 9, "score": 0.5, "device": "app"}
    event = parse_event({"event_id": "e", "type": "login", "profile_id": "u",
                         "situation": situation})
    assert event.situation == situation
    assert isinstance(event.situation["returning"], bool)
