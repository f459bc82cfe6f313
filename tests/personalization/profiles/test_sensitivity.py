"""Sensitive categories never leak into decisions, renders, segments or actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from content_pool.expressions import compile_expression
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import MemoryContentStore
from personalization.clock import FrozenClock
from personalization.decisions.decider import ConsentedProfiles, Decider, DeciderParts
from personalization.decisions.models import DecisionRequest
from personalization.decisions.policies import make_policy
from personalization.decisions.ranking import FeatureIndex
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.profile import Profile, ProfilePolicy
from personalization.profiles.reducer import apply_events
from personalization.profiles.sensitivity import (
    SensitivityPolicy,
    consents_of,
    usable_profile_affinities,
    visible_profile_of,
)
from personalization.profiles.service import ProfileService
from personalization.store.memory_store import MemoryStore
from tests.content_pool.factories import make_draft

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
POLICY = SensitivityPolicy()


def _event(kind: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"e{kind}{n}", "type": kind, "profile_id": "p1", **fields}


def profile_with(first_name: str | None = "Mia") -> Profile:
    raw: list[dict[str, Any]] = [
        _event("product_view", i, properties={"product_id": f"t{i}", "category": "pregnancy"})
        for i in range(6)
    ]
    raw += [_event("page_view", 1, properties={"category": "hiking"})]
    raw += [_event("consent_update", 1, properties={"consents": {"personalisation": True}})]
    if first_name:
        raw += [_event("profile_update", 1, properties={"first_name": first_name})]
    raw += [_event("page_view", 2, situation={"language": "fr", "country": "FR"})]
    profile = apply_events(None, [parse_event(r) for r in raw], now=T0, policy=ProfilePolicy())
    assert profile.affinities.current(T0)["pregnancy"] > profile.affinities.current(T0)["hiking"]
    return profile


def test_sub_labels_of_a_sensitive_category_are_sensitive() -> None:
    assert POLICY.is_sensitive("Health") and POLICY.is_sensitive("health.diabetes")
    assert POLICY.is_sensitive("finance_troubles/loans")
    assert not POLICY.is_sensitive("healthy-snacks") and not POLICY.is_sensitive("hiking")


def test_sensitive_affinities_need_explicit_consent_not_just_personalisation() -> None:
    profile = profile_with()
    assert consents_of(profile) == {"personalisation": True}
    usable = usable_profile_affinities(profile, T0, POLICY)
    assert "pregnancy" not in usable and "hiking" in usable
    scores = profile.affinities.current(T0)
    assert "pregnancy" in POLICY.usable_affinities(scores, {"sensitive": True})
    assert "pregnancy" in POLICY.usable_affinities(scores, {"sensitive:pregnancy": True})
    assert "pregnancy" not in POLICY.usable_affinities(scores, {"sensitive:health": True})
    assert "pregnancy" not in POLICY.usable_affinities(scores, {"sensitive": False})


def test_configured_categories_replace_the_defaults() -> None:
    policy = SensitivityPolicy(categories=frozenset({"Hiking"}))
    assert policy.usable_affinities({"hiking": 1.0, "pregnancy": 1.0}, {}) == {"pregnancy": 1.0}


def test_targeting_conditions_cannot_see_a_locked_sensitive_affinity() -> None:
    usable = usable_profile_affinities(profile_with(), T0, POLICY)
    condition = compile_expression('affinity("pregnancy") > 0 or affinity("hiking") > 100')
    assert not condition.matches({"profile": {"affinities": usable}})
    assert compile_expression('affinity("hiking") > 0').matches({"profile": {"affinities": usable}})


def test_rendered_text_never_shows_a_sensitive_interest_even_with_consent() -> None:
    profile = profile_with()
    view = visible_profile_of(profile, T0, POLICY)
    assert view["interests"] == ["hiking"] and view["first_name"] == "Mia"
    item = make_draft(template="{{ first_name }} likes {{ profile.interests|join(',') }}")
    text = Renderer().render(item, profile=view, first_name=view["first_name"], consent=True)
    assert text == "Mia likes hiking"
    unlocked = POLICY.usable_affinities(profile.affinities.current(T0), {"sensitive": True})
    assert "pregnancy" not in POLICY.shown_interests(unlocked)


def test_inferred_attributes_are_never_part_of_the_visible_profile() -> None:
    profile = profile_with(first_name=None)
    assert profile.inferred["language"].value == "fr"
    view = visible_profile_of(profile, T0, POLICY)
    assert view["first_name"] is None
    assert "fr" not in str(view).lower().replace("first_name", "")
    assert POLICY.visible_profile(
        lifecycle="active", affinities={}, first_name="Guess", first_name_inferred=True
    )["first_name"] is None


def test_next_actions_do_not_build_on_a_sensitive_purchase_without_consent() -> None:
    bought = ["pregnancy", "outdoor.jackets", "health.vitamins"]
    assert POLICY.usable_categories(bought, {"personalisation": True}) == ["outdoor.jackets"]
    assert POLICY.usable_categories(bought, {"sensitive:health": True}) == [
        "outdoor.jackets", "health.vitamins"
    ]


@pytest.mark.parametrize("with_sensitive_item", [True, False])
async def test_a_decision_neither_ranks_by_nor_renders_a_sensitive_interest(
    with_sensitive_item: bool,
) -> None:
    clock = FrozenClock(T0)
    store = MemoryStore(clock=clock)
    service = ProfileService(store, clock=clock, policy=ProfilePolicy())
    raw = [
        _event("product_view", i, properties={"product_id": f"t{i}", "category": "pregnancy"})
        for i in range(6)
    ] + [
        _event("page_view", 1, properties={"category": "hiking"}),
        _event("consent_update", 1, properties={"consents": {"personalisation": True}}),
    ]
    await service.ingest([parse_event(r) for r in raw])
    content = MemoryContentStore()
    template = "<p>{{ item.title }} for fans of {{ profile.interests|join(', ') }}</p>"
    await content.put(make_draft(id="hero-hiking", title="Trails", template=template,
                                 targeting={"categories": ["hiking"]}))
    if with_sensitive_item:
        await content.put(make_draft(id="hero-baby", title="Baby", template=template,
                                     targeting={"categories": ["pregnancy"]}, priority=60))
    pool = ContentPool(content)
    decider = Decider(DeciderParts(
        pool, store, renderer=Renderer(), policy=make_policy("greedy"),
        features=FeatureIndex(None),
        profiles=ConsentedProfiles(service, clock=clock, sensitivity=POLICY),
    ))  # fmt: skip
    await decider.refresh_pool(T0)
    decision = await decider.decide(
        DecisionRequest(session_id="s1", profile_id="p1", slots=["hero"]), T0
    )
    assert decision.personalised
    shown = decision.slots["hero"][0]
    assert shown.item_id == "hero-hiking"
    text = (shown.html or shown.text or "") + " ".join(shown.reasons)
    assert "pregnancy" not in text and "hiking" in text
