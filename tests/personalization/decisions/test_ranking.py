"""Fit scoring: each term behaves as stated, weights are validated, features are cached."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from content_pool.models import ContentItem
from intent.encoder import HashingEncoder
from personalization.decisions.models import DecisionContext, DecisionProfile, SituationSummary
from personalization.decisions.ranking import (
    TERMS,
    TOPIC_GUESS,
    FeatureIndex,
    Ranker,
    ScoringWeights,
)
from tests.personalization.decider_helpers import NOW, item


def stored(item_id: str, **overrides: Any) -> ContentItem:
    draft = item(item_id, **overrides)
    return ContentItem.model_validate({**draft.model_dump(), "version": 1, "updated_at": NOW})


def context(**overrides: Any) -> DecisionContext:
    values: dict[str, Any] = {"language": "de", "channel": "web", "situation": SituationSummary()}
    values.update(overrides)
    return DecisionContext(**values)


ITEMS = (
    stored("buy-now", targeting={"phases": ["purchase"], "moments": ["buy"]}),
    stored("inspire", targeting={"phases": ["explore"], "moments": ["know"]}),
    stored("open"),
)


def term(name: str, terms: np.ndarray) -> np.ndarray:
    column: np.ndarray = terms[:, TERMS.index(name)]
    return column


def test_phase_and_moment_match_scale_with_confidence() -> None:
    features = FeatureIndex(None).features(ITEMS)
    ranker = Ranker()
    sure = ranker.terms(features, context(phase="purchase", moment="buy"))
    assert list(term("phase", sure)) == [1.0, 0.0, 0.5]
    assert list(term("moment", sure)) == [1.0, 0.0, 0.5]
    unsure = ranker.terms(features, context(phase="purchase"), phase_confidence=0.4)
    assert list(term("phase", unsure)) == pytest.approx([0.7, 0.3, 0.5])
    unknown = ranker.terms(features, context())
    assert set(term("phase", unknown)) == {0.5}
    fit = ranker.fit(sure)
    assert fit[0] > fit[2] > fit[1]


def test_similarity_ranks_the_item_about_the_search_first() -> None:
    items = (stored("boots", title="Wanderschuhe wasserdicht"),
             stored("tents", title="Zelte und Schlafsäcke"))  # fmt: skip
    encoder = HashingEncoder(dim=512)
    features = FeatureIndex(encoder).features(items)
    text = encoder.encode(["wasserdichte wanderschuhe"])[0]
    sims = term("similarity", Ranker().terms(features, context(), text_vector=text))
    assert sims[0] > sims[1] >= 0


def test_affinity_and_lifecycle_need_a_profile() -> None:
    items = (
        stored("hiking", targeting={"categories": ["hiking"], "lifecycle_stages": ["loyal"]}),
        stored("running", targeting={"categories": ["running"]}),
    )
    features = FeatureIndex(None).features(items)
    anonymous = Ranker().terms(features, context())
    assert list(term("affinity", anonymous)) == [0.0, 0.0]
    assert list(term("lifecycle", anonymous)) == [0.0, 0.5]
    hiker = DecisionProfile("p", lifecycle="loyal", affinities={"hiking": 0.8, "running": 0.1})
    known = Ranker().terms(features, context(profile=hiker))
    assert list(term("affinity", known)) == pytest.approx([0.8, 0.1])
    assert list(term("lifecycle", known)) == [1.0, 0.5]


def test_reasons_name_every_weighted_term_with_its_value() -> None:
    features = FeatureIndex(None).features(ITEMS)
    ranker = Ranker(ScoringWeights(priority=0.0))
    ctx = context(phase="purchase", moment="buy")
    terms = ranker.terms(features, ctx)
    reasons = ranker.explain(ITEMS[0], terms[0], ctx)
    assert reasons[0] == "phase: phase purchase = 1.00 x weight 0.30"
    assert not any(r.startswith("priority") for r in reasons)


@pytest.mark.parametrize(
    "bad",
    [{"phase": -0.1}, {"phase": float("nan")},
     {name: 0.0 for name in TERMS}, {"ctr_floor": 0.3, "ctr_ceiling": 0.2}],
)  # fmt: skip
def test_weights_are_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ScoringWeights(**bad)


def test_weights_from_settings_reject_unknown_names() -> None:
    assert ScoringWeights.from_mapping({"phase": 0.5}).phase == 0.5
    with pytest.raises(ValueError, match="unknown scoring weights: phaze"):
        ScoringWeights.from_mapping({"phaze": 0.5})


def test_features_are_computed_once_per_bucket_and_item_version() -> None:
    class CountingEncoder(HashingEncoder):
        calls = 0

        def encode(self, texts: Any) -> np.ndarray:
            type(self).calls += len(texts)
            return super().encode(texts)

    index = FeatureIndex(CountingEncoder(dim=64))
    bucket = ITEMS
    first = index.features(bucket)
    assert index.features(bucket) is first
    assert CountingEncoder.calls == 3
    index.features(tuple(reversed(ITEMS)))  # a new bucket of known items: no new encoding
    assert CountingEncoder.calls == 3
    edited = ContentItem.model_validate({**ITEMS[0].model_dump(), "version": 2})
    index.features((edited,))
    assert CountingEncoder.calls == 4


TOPICAL = (
    stored("ski", targeting={"categories": ["winter"]}, priority=90),
    stored("tents", targeting={"categories": ["camping"]}, priority=40),
    stored("boots", targeting={"categories": ["hiking"]}, priority=40),
    stored("generic", priority=80),
)


def test_a_clear_interest_of_the_moment_outranks_priority_and_generic_items() -> None:
    features = FeatureIndex(None).features(TOPICAL)
    ranker = Ranker()
    camping = context(interests={"camping": 0.92}, phase="consider")
    fit = ranker.fit(ranker.terms(features, camping))
    assert [TOPICAL[i].id for i in np.argsort(-fit)][0] == "tents"
    topic = term("topic", ranker.terms(features, camping))
    assert list(topic) == pytest.approx([0.04, 0.96, 0.04, 0.5])


def test_without_an_interest_an_item_for_everyone_goes_before_a_topical_guess() -> None:
    features = FeatureIndex(None).features(TOPICAL)
    ranker = Ranker()
    terms = ranker.terms(features, context())
    assert list(term("topic", terms)) == [TOPIC_GUESS] * 3 + [0.5]
    # equal priorities: the generic item wins; the marketer's priority can still outweigh it
    even = tuple(item.model_copy(update={"priority": 50}) for item in TOPICAL)
    fit = ranker.fit(ranker.terms(FeatureIndex(None).features(even), context()))
    assert [even[i].id for i in np.argsort(-fit, kind="stable")][0] == "generic"
    [reason] = [r for r in ranker.explain(TOPICAL[0], terms[0], context()) if "topic" in r]
    assert "not known for this visit" in reason and "winter" in reason
    # and a consented visitor's long-term affinity outweighs the guess
    skier = context(profile=DecisionProfile("p-2", lifecycle="active", affinities={"winter": 0.9}))
    fit = ranker.fit(ranker.terms(FeatureIndex(None).features(even), skier))
    assert [even[i].id for i in np.argsort(-fit, kind="stable")][0] == "ski"


def test_focus_takes_the_strongest_interest_and_those_nearly_as_strong() -> None:
    features = FeatureIndex(None).features(TOPICAL)
    ranker = Ranker()
    tie = context(interests={"camping": 0.85, "hiking": 0.85})
    side_note = context(interests={"camping": 0.55, "winter": 0.44})

    def focused(ctx: Any) -> list[str]:
        about = ranker.focus(ranker.terms(features, ctx), ctx)
        assert about is not None
        return [item.id for item, keep in zip(TOPICAL, about, strict=True) if keep]

    assert focused(tie) == ["tents", "boots"]
    assert focused(side_note) == ["tents"]


def test_a_second_interest_ranks_between_the_first_and_the_rest() -> None:
    features = FeatureIndex(None).features(TOPICAL)
    topic = term("topic", Ranker().terms(features, context(interests={"camping": 0.8,
                                                                       "hiking": 0.4})))
    tents, boots, ski = topic[1], topic[2], topic[0]
    assert tents > boots > ski


def test_what_the_visitor_is_after_now_beats_what_they_liked_before() -> None:
    features = FeatureIndex(None).features(TOPICAL)
    ranker = Ranker()
    skier = DecisionProfile("p-1", lifecycle="active", affinities={"winter": 1.0})
    before = ranker.fit(ranker.terms(features, context(profile=skier)))
    assert TOPICAL[int(np.argmax(before))].id == "ski"  # long-term interest, nothing else known
    now = ranker.fit(ranker.terms(features, context(profile=skier, interests={"camping": 0.9})))
    assert TOPICAL[int(np.argmax(now))].id == "tents"
    vague = ranker.terms(features, context(profile=skier, interests={"camping": 0.3}))
    assert term("affinity", vague)[0] == pytest.approx(0.7)  # blended in by 1 - clarity


def test_the_reason_says_in_words_what_the_visitor_is_after() -> None:
    features = FeatureIndex(None).features(TOPICAL)
    ranker = Ranker()
    ctx = context(interests={"camping": 0.92},
                  interest_evidence={"camping": "searched for 'leichtes zelt'"})  # fmt: skip
    row = ranker.terms(features, ctx)[1]
    reasons = ranker.explain(TOPICAL[1], row, ctx)
    assert reasons[0] == (
        "matches what the visitor is after: searched for 'leichtes zelt' -> camping (0.92)"
    )
    ski = ranker.explain(TOPICAL[0], ranker.terms(features, ctx)[0], ctx)
    assert not any("visitor is after" in reason for reason in ski)


def test_without_an_interest_the_other_terms_keep_their_share() -> None:
    features = FeatureIndex(None).features(ITEMS)
    neutral = Ranker().fit(Ranker().terms(features, context(phase="purchase", moment="buy")))
    weights = ScoringWeights()
    before = ScoringWeights(**{**{n: getattr(weights, n) for n in TERMS}, "topic": 0.0})
    assert list(neutral) == pytest.approx(
        list(Ranker(before).fit(Ranker(before).terms(features, context(phase="purchase",
                                                                          moment="buy")))))


def test_a_clear_interest_lets_only_its_items_compete() -> None:
    features = FeatureIndex(None).features(TOPICAL)
    ranker = Ranker()
    clear = context(interests={"camping": 0.55})
    about = ranker.focus(ranker.terms(features, clear), clear)
    assert about is not None
    assert [item.id for item, on in zip(TOPICAL, about, strict=True) if on] == ["tents"]
    vague = context(interests={"camping": 0.3})
    assert ranker.focus(ranker.terms(features, vague), vague) is None
    assert ranker.focus(ranker.terms(features, context()), context()) is None
    never = Ranker(ScoringWeights(topic_focus=1.1))
    assert never.focus(never.terms(features, clear), clear) is None
