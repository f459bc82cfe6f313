"""The reducer: what a profile knows after events, and its compact stored form."""

from __future__ import annotations

import random
from datetime import timedelta

import orjson
import pytest

from personalization.profiles.document import from_document, to_document
from personalization.profiles.events import Event, Purpose
from personalization.profiles.lifecycle import Stage
from personalization.profiles.profile import Profile, ProfilePolicy
from personalization.profiles.reducer import apply_events, reduce
from tests.personalization.profile_factories import T0, make_event, purchase

POLICY = ProfilePolicy()


def _apply(events: list[Event], profile: Profile | None = None, days: float = 0) -> Profile:
    return apply_events(profile, events, now=T0 + timedelta(days=days), policy=POLICY)


def test_a_known_person_starts_as_prospect_with_the_transition_recorded() -> None:
    profile = _apply([make_event("login", "u1")])
    assert profile.profile_id == "u1" and not profile.anonymous
    assert profile.stage == Stage.prospect
    [transition] = profile.lifecycle.history
    assert (transition.from_stage, transition.to_stage, transition.at) == (
        Stage.anonymous, Stage.prospect, T0)


def test_an_anonymous_visitor_stays_anonymous() -> None:
    profile = _apply([make_event("page_view", "a1", anonymous=True)])
    assert profile.anonymous and profile.stage == Stage.anonymous
    assert profile.lifecycle.history == []


def test_purchases_move_people_through_the_lifecycle_and_time_moves_them_out() -> None:
    first = reduce(None, [purchase("u1", 40)], profile_id="u1", now=T0, policy=POLICY)
    assert first.profile.stage == Stage.new_customer
    second = reduce(first.profile, [purchase("u1", 60, timestamp=T0 + timedelta(days=3))],
                    profile_id="u1", now=T0 + timedelta(days=3), policy=POLICY)
    assert second.profile.stage == Stage.active
    assert [t.to_stage for t in second.transitions] == [Stage.active]
    assert second.profile.rfm.orders == 2 and second.profile.rfm.revenue == pytest.approx(100)
    silent = reduce(second.profile, [], profile_id="u1", now=T0 + timedelta(days=100),
                    policy=POLICY)
    assert silent.profile.stage == Stage.at_risk
    assert silent.transitions[0].reason == "no order for 97d"
    assert [t.to_stage for t in silent.profile.lifecycle.history] == [
        Stage.new_customer, Stage.active, Stage.at_risk]


def test_cart_follows_adds_removes_and_is_emptied_by_the_purchase() -> None:
    def add(product: str, price: float, quantity: int = 1) -> Event:
        return make_event("add_to_cart", properties={
            "product_id": product, "price": price, "quantity": quantity, "category": "boots"})

    profile = _apply([add("p1", 10), add("p1", 10, 2), add("p2", 5)])
    assert [(i.product_id, i.quantity) for i in profile.cart.items] == [("p1", 3), ("p2", 1)]
    assert profile.cart.value == 35
    assert from_document(to_document(profile)).cart == profile.cart
    later = T0 + timedelta(hours=5)
    profile = _apply([make_event("remove_from_cart", properties={"product_id": "p1"},
                                 timestamp=later.isoformat())], profile, days=1)
    assert profile.cart.value == 5 and profile.cart.updated_at == later
    assert profile.cart.abandoned(T0 + timedelta(days=1), after=timedelta(hours=4))
    profile = _apply([purchase("u1", 5)], profile, days=1)
    assert profile.cart.is_empty


def test_newer_consent_wins_whatever_the_arrival_order() -> None:
    def consent(granted: bool, hours: int) -> Event:
        return make_event("consent_update", timestamp=(T0 + timedelta(hours=hours)).isoformat(),
                          properties={"consents": {"email": granted}, "source": "banner"})

    in_order = _apply([consent(True, 1), consent(False, 2)], days=1)
    reversed_ = _apply([consent(False, 2)], days=1)
    reversed_ = _apply([consent(True, 1)], reversed_, days=1)
    for profile in (in_order, reversed_):
        assert profile.consent[Purpose.email].granted is False
        assert profile.consent[Purpose.email].source == "banner"


def test_known_attributes_win_over_inferred_and_postcodes_are_not_kept() -> None:
    profile = _apply([make_event("page_view", situation={"language": "en", "device": "mobile"})])
    assert profile.inferred["language"].value == "en"
    assert profile.inferred["language"].source == "situation"
    assert profile.language == "en"
    profile = _apply([make_event("profile_update", properties={
        "language": "de", "postcode": "80331", "birthday": "1990-05-17",
        "channel_preferences": ["email", "push"]})], profile)
    assert profile.language == "de" and "language" not in profile.inferred
    assert profile.known.region == "80"
    assert "80331" not in orjson.dumps(to_document(profile)).decode()
    assert profile.birthday is not None and profile.birthday.month == 5
    assert [c.value for c in profile.channel_preferences] == ["email", "push"]


def test_intents_are_kept_in_time_order_and_bounded() -> None:
    events = [make_event("chat_message", timestamp=(T0 + timedelta(minutes=i)).isoformat(),
                         intent={"intent": f"i{i}", "phase": "use", "moment": "service"})
              for i in range(8)]
    profile = _apply(list(reversed(events)), days=1)
    assert [m.intent for m in profile.last_intents] == ["i4", "i5", "i6", "i7"]
    assert profile.last_intent is not None and profile.last_intent.intent == "i7"


def test_the_reducer_does_not_modify_its_input() -> None:
    before = _apply([make_event("login")])
    copy = before.model_copy(deep=True)
    _apply([purchase()], before)
    assert before == copy


def test_stored_document_round_trips_and_stays_small_after_100_events() -> None:
    rng = random.Random(7)
    categories = [f"category-{i}" for i in range(30)]
    profile: Profile | None = None
    for i in range(100):
        at = (T0 + timedelta(minutes=i)).isoformat()
        kind = rng.choice(["page_view", "product_view", "add_to_cart", "search", "purchase",
                           "chat_message", "email_click"])
        category = rng.choice(categories)
        situation = {"device": "mobile", "source": "newsletter", "language": "de"}
        if kind == "purchase":
            event = purchase(category=category, timestamp=at, situation=situation)
        elif kind == "add_to_cart":
            event = make_event(kind, timestamp=at, properties={
                "product_id": f"sku-{rng.randrange(10_000)}", "price": 19.9, "category": category})
        elif kind == "search":
            event = make_event(kind, timestamp=at, properties={"query": "boots"})
        else:
            props = {"category": category} | (
                {"product_id": f"sku-{i}"} if kind == "product_view" else {})
            event = make_event(kind, timestamp=at, situation=situation, properties=props,
                               intent={"intent": "browse"})
        profile = _apply([event], profile, days=1)
    assert profile is not None
    document = to_document(profile)
    restored = from_document(orjson.loads(orjson.dumps(document)))
    assert to_document(restored) == document  # nothing is lost beyond rounding
    assert restored.affinities.current(T0) == pytest.approx(profile.affinities.current(T0),
                                                            abs=1e-3)
    assert restored.rfm.orders == profile.rfm.orders
    assert len(orjson.dumps(document)) < 1800
