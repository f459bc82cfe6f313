"""The judged relevance set through the real app: floors on what ``/v1/decide`` shows.

The same evaluation as ``bench/bench_relevance.py`` (which prints the full table with the
baselines), with the deterministic hashing encoder and the in-process store. The floors are
today's measured figures minus a small margin; raise them when the product gets better.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.bench_relevance import SITUATIONS, Report, evaluate, load_situations

TOPICS = {"hiking", "running", "climbing", "camping", "cycling", "winter", "kids"}
SIGNALS = {"external_search", "onsite_search", "utterance", "landing_path", "page_title",
           "product", "utm", "newsletter", "session", "none"}  # fmt: skip

ON_TOPIC_FLOOR = 0.92
"""Share of visits whose hero is on topic: 95.0 % (151 of 159) on 2026-12-04 with the hashing
encoder and the demo pool, after the visit's topic carried over pages that say nothing, the
focus kept to the strongest interests and a topical guess went behind items for everyone
(86.8 % before those, 10.7 % before the interest of the moment). The margin is the policy's
exploration: a change elsewhere moves single visits between its draws."""

LANGUAGE_FLOOR = 1.0
"""Hero in the visitor's language, where Accept-Language or the text gives it."""

PATH_LANGUAGE_FLOOR = 1.0
"""Hero in the visitor's language where only the /de/ or /en/ path gives it (read from the
landing path since 2026-12-04; 17 of 34 before)."""


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(load_situations(), encoder="hashing")


def test_the_judged_set_is_balanced_and_well_formed() -> None:
    situations = load_situations(SITUATIONS)
    assert len(situations) >= 150
    assert len({s.id for s in situations}) == len(situations)
    languages = Counter(s.language for s in situations)
    assert set(languages) == {"de", "en"}
    assert min(languages.values()) >= 0.4 * len(situations)
    assert {s.topic for s in situations} - {None} == TOPICS
    assert 8 <= sum(s.topic is None for s in situations) <= 15
    assert {signal for s in situations for signal in s.signals} == SIGNALS
    assert {s.language_by for s in situations} == {"accept_language", "path", "text"}
    for s in situations:
        assert 1 <= len(s.requests) <= 3, s.id
        assert ("session" in s.signals) == (len(s.requests) > 1), s.id
        for request in s.requests:
            assert set(request) <= {"context", "text"}, s.id
        if s.language_by == "path":
            url = s.requests[-1]["context"]["url"]
            assert f"/{s.language}/" in url, s.id
            assert all("accept_language" not in r["context"] for r in s.requests), s.id


def test_hero_is_in_the_visitors_language(report: Report) -> None:
    stated = report.indices(lambda s: s.language_by != "path")
    by_path = report.indices(lambda s: s.language_by == "path")
    assert (report.mean("kairos", "hero_language", stated) or 0.0) >= LANGUAGE_FLOOR
    assert (report.mean("kairos", "hero_language", by_path) or 0.0) >= PATH_LANGUAGE_FLOOR


def test_hero_on_topic_stays_above_the_floor(report: Report) -> None:
    assert (report.mean("kairos", "hero_on_topic") or 0.0) >= ON_TOPIC_FLOOR


def test_kairos_is_at_least_as_good_as_priority_alone(report: Report) -> None:
    kairos = report.mean("kairos", "hero_on_topic") or 0.0
    priority = report.mean("priority", "hero_on_topic") or 0.0
    assert kairos >= priority


def test_kairos_heroes_are_on_topic_as_often_as_a_search_engines(report: Report) -> None:
    kairos = report.mean("kairos", "hero_on_topic") or 0.0
    retrieval = report.mean("tf-idf", "hero_on_topic") or 0.0
    assert kairos >= retrieval


def test_kairos_ranks_recommendations_ahead_of_a_search_engine(report: Report) -> None:
    # nDCG@3 of product_reco: 0.850 against TF-IDF retrieval's 0.788 on 2026-12-04
    kairos = report.mean("kairos", "ndcg") or 0.0
    assert kairos >= (report.mean("tf-idf", "ndcg") or 0.0)
