"""Topics read from an event's texts feed the profile's affinities (confidence-weighted)."""

from __future__ import annotations

from typing import Any

import pytest

from intent.interest import DEFAULT_TAXONOMY, InterestReader, load_taxonomy
from personalization.clock import FrozenClock
from personalization.profiles.consent import profile_for_decision
from personalization.profiles.events import InferredTopic
from personalization.profiles.service import ProfileService
from personalization.profiles.topics import EventTopics
from tests.conftest import Backend
from tests.factories import make_store
from tests.personalization.profile_factories import T0, make_event

READER = InterestReader(load_taxonomy(DEFAULT_TAXONOMY))


def _service(backend: Backend, reader: InterestReader | None = READER) -> ProfileService:
    return ProfileService(make_store(backend), clock=FrozenClock(T0), interests=reader)


def _inferred(docs: list[dict[str, Any]]) -> list[Any]:
    return [doc.get("inferred") for doc in docs]


async def test_a_page_view_of_a_tent_path_raises_the_camping_affinity(backend: Backend) -> None:
    service = _service(backend)
    await service.ingest([make_event("page_view", properties={"url": "/de/zelte/ultraleicht"})])
    profile = await service.get("u1")
    # a path segment reads camping at 0.55: the page view (weight 1) adds 0.55, not 1
    assert profile.affinities.scores == pytest.approx({"camping": 0.55})
    assert profile.affinities.current(T0)["camping"] > 0
    assert _inferred(await service.store.events("u1")) == [
        [{"category": "camping", "confidence": 0.55}]]


async def test_a_search_for_hiking_boots_raises_hiking(backend: Backend) -> None:
    service = _service(backend)
    await service.ingest([make_event("search", properties={"query": "wanderschuhe"})])
    profile = await service.get("u1")
    assert profile.affinities.scores == pytest.approx({"hiking": 1.5 * 0.85})


def test_product_names_titles_and_campaign_links_are_read() -> None:
    topics = EventTopics(READER)
    events = topics.infer([
        make_event("product_view", properties={"product_id": "p1", "name": "Leichtes Zelt 2P"}),
        make_event("page_view", properties={"title": "Wanderschuhe für Damen"}),
        make_event("add_to_cart", properties={"product_id": "p2", "name": "Kletterseil 60 m"}),
        make_event("email_click", properties={"url": "https://shop.example/de/zelte"}),
    ])
    assert [[t.category for t in e.inferred or ()] for e in events] == [
        ["camping"], ["hiking"], ["climbing"], ["camping"]]


async def test_named_categories_win_over_the_texts(backend: Backend) -> None:
    service = _service(backend)
    await service.ingest([make_event("page_view", properties={
        "url": "/de/zelte/ultraleicht", "category": "hiking"})])
    profile = await service.get("u1")
    assert set(profile.affinities.scores) == {"hiking"}
    assert profile.affinities.scores["hiking"] == pytest.approx(1.0)
    assert _inferred(await service.store.events("u1")) == [None]


async def test_text_that_names_no_topic_infers_nothing(backend: Backend) -> None:
    service = _service(backend)
    await service.ingest([
        make_event("search", properties={"query": "versandkosten"}),
        make_event("page_view", properties={"url": "/de/impressum", "title": "Impressum"}),
        make_event("login"),
    ])
    profile = await service.get("u1")
    assert profile.affinities.scores == {}
    assert _inferred(await service.store.events("u1")) == [None, None, None]


async def test_replays_and_merges_add_exactly_what_the_first_application_added(
    backend: Backend,
) -> None:
    service = _service(backend)
    events = [
        make_event("page_view", "anon-3", anonymous=True,
                   properties={"url": "/de/zelte/ultraleicht"}),
        make_event("search", "anon-3", anonymous=True, properties={"query": "wanderschuhe"}),
    ]
    await service.ingest(events)
    anonymous = (await service.get("anon-3")).affinities.scores
    again = await service.ingest(events)
    assert again.duplicates == [e.event_id for e in events]
    assert (await service.get("anon-3")).affinities.scores == anonymous

    await service.ingest([make_event("login", "u5", anonymous_id="anon-3")])
    known = await service.get("u5")
    assert known.affinities.scores == pytest.approx(anonymous)
    assert all(doc.get("inferred") for doc in await service.store.events("u5")
               if doc["type"] != "login")


async def test_a_caller_cannot_claim_inferred_topics(backend: Backend) -> None:
    claimed = {"inferred": [{"category": "winter", "confidence": 1.0}]}
    for reader in (READER, None):
        service = _service(backend, reader)
        who = "with-reader" if reader else "without-reader"
        await service.ingest([make_event("search", who, properties={"query": "wanderschuhe"},
                                         **claimed)])
        scores = (await service.get(who)).affinities.scores
        assert "winter" not in scores
        assert set(scores) == ({"hiking"} if reader else set())


async def test_inferred_affinities_follow_the_consent_rule_of_named_ones(
    backend: Backend,
) -> None:
    service = _service(backend)
    await service.ingest([make_event("page_view", properties={"url": "/de/zelte"})])
    profile = await service.get("u1")
    # kept like any affinity, but a decision sees the profile only with personalisation consent
    assert "camping" in profile.affinities.scores
    assert profile_for_decision(profile) is None


def test_weak_readings_are_left_out_and_topics_are_bounded() -> None:
    strict = EventTopics(READER, min_confidence=0.6, max_topics=1)
    event = make_event("page_view", properties={"url": "/de/zelte/ultraleicht"})
    assert strict.infer([event])[0].inferred is None  # the path alone reads 0.55
    both = make_event("page_view", properties={
        "url": "/de/zelte", "title": "Wanderschuhe und Zelte"})
    topics = strict.infer([both])[0].inferred or []
    assert len(topics) == 1 and isinstance(topics[0], InferredTopic)
    assert topics[0].confidence >= 0.6
