"""The interests inside the situation reading: context fields, search term, session, opt-in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intent.interest import Interest, InterestReader, load_taxonomy
from intent.situation import ContextInput, SituationReader

NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def reader() -> SituationReader:
    return SituationReader(
        internal_hosts=["shop.example"],
        clock=lambda: NOON,
        interests=InterestReader(load_taxonomy()),
    )


def test_search_term_of_the_referrer_is_read(reader: SituationReader) -> None:
    situation = reader.read(
        ContextInput(
            referrer="https://www.google.de/search?q=wanderschuhe+damen+wasserdicht",
            url="https://shop.example/",
        )
    )
    [interest] = situation.interests
    assert interest.category == "hiking"
    assert [(e.signal, e.text) for e in interest.evidence] == [
        ("search_term", "wanderschuhe damen wasserdicht")
    ]


def test_context_fields_and_the_utterance_are_read(reader: SituationReader) -> None:
    situation = reader.read(
        ContextInput(
            url="https://shop.example/de/zelte/kuppelzelt-3p?utm_campaign=herbst&utm_content=zelte",
            page_title="Kuppelzelt Nordkap 3 | Bergfalke",
            product="Kuppelzelt Nordkap 3",
            site_search="zelt 3 personen",
        ),
        text="ist das zelt wasserdicht?",
    )
    [interest] = situation.interests
    assert interest.category == "camping" and interest.confidence > 0.95
    assert {e.signal for e in interest.evidence} == {
        "site_search",
        "utterance",
        "product",
        "page_title",
        "landing_path",
        "utm_content",
    }


def test_utm_term_is_read_once(reader: SituationReader) -> None:
    situation = reader.read(
        ContextInput(url="https://shop.example/?utm_medium=cpc&utm_source=google&utm_term=mtb+helm")
    )
    assert situation.source.search_term == "mtb helm"
    [interest] = situation.interests
    assert [e.signal for e in interest.evidence] == ["utm_term"]


def test_session_interests_are_passed_on(reader: SituationReader) -> None:
    earlier = [[Interest(category="climbing", confidence=0.9)]]
    situation = reader.read(
        ContextInput(url="https://shop.example/warenkorb"), session_interests=earlier
    )
    assert [(i.category, i.evidence[0].signal) for i in situation.interests] == [
        ("climbing", "session")
    ]


def test_nothing_known_and_no_reader_give_no_interests(reader: SituationReader) -> None:
    assert reader.read(ContextInput(url="https://shop.example/kontakt")).interests == []
    plain = SituationReader(clock=lambda: NOON)
    situation = plain.read(ContextInput(referrer="https://www.google.de/search?q=zelt"))
    assert situation.interests == []
    assert "interests" in situation.model_dump()


def test_new_context_fields_are_optional_and_stripped() -> None:
    context = ContextInput(page_title="  Zelte  ", product="Nordkap 3", site_search="zelt")
    assert (context.page_title, context.product, context.site_search) == (
        "Zelte",
        "Nordkap 3",
        "zelt",
    )
    assert ContextInput().page_title is None
