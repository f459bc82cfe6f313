"""The hard rules: what may never be shown, whatever it scores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from content_pool.models import ContentItem
from personalization.decisions.eligibility import Eligibility, cap_fields, reads_profile
from personalization.decisions.models import DecisionContext, DecisionProfile, SituationSummary
from personalization.decisions.ranking import FeatureIndex
from tests.personalization.decider_helpers import NOW, item, make_pool


def stored(draft_id: str, **overrides: Any) -> ContentItem:
    draft = item(draft_id, **overrides)
    return ContentItem.model_validate({**draft.model_dump(), "version": 1, "updated_at": NOW})


def context(**overrides: Any) -> DecisionContext:
    values: dict[str, Any] = {
        "language": "de",
        "channel": "web",
        "situation": SituationSummary(),
        "situation_view": {"device": {"type": "mobile"}, "source": {"medium": "search"}},
    }
    values.update(overrides)
    return DecisionContext(**values)


async def check(items: list[ContentItem], ctx: DecisionContext, **kwargs: Any) -> dict[str, str]:
    pool = await make_pool([i.draft() for i in items])
    kept, excluded = Eligibility(pool).filter(items, ctx, now=NOW, **kwargs)
    return {**{i.id: "ok" for i in kept}, **{e.item_id: e.rule for e in excluded}}


async def test_status_validity_language_and_channel() -> None:
    verdicts = await check(
        [
            stored("live"),
            stored("draft", status="draft"),
            stored("expired", valid_to=NOW - timedelta(hours=1)),
            stored("future", valid_from=NOW + timedelta(days=1)),
            stored("english", language="en"),
            stored("chat", channel="chat", template="Hallo"),
        ],
        context(),
    )
    assert verdicts == {
        "live": "ok", "draft": "status", "expired": "validity", "future": "validity",
        "english": "language", "chat": "channel",
    }  # fmt: skip


async def test_audience_condition_over_the_situation() -> None:
    items = [stored("mobile-only", targeting={"audience": 'device.type == "mobile"'})]
    assert (await check(items, context()))["mobile-only"] == "ok"
    desktop = context(situation_view={"device": {"type": "desktop"}})
    assert (await check(items, desktop))["mobile-only"] == "audience condition"


async def test_profile_conditions_need_consent() -> None:
    items = [
        stored("hikers", targeting={"audience": 'affinity("hiking") > 0.5'}),
        stored("not-lapsed", targeting={"audience": 'profile.lifecycle != "lapsed"'}),
        stored("anyone", targeting={"audience": 'source.medium == "search"'}),
    ]
    anonymous = await check(items, context())
    assert anonymous == {
        "hikers": "needs personalisation consent",
        "not-lapsed": "needs personalisation consent",
        "anyone": "ok",
    }
    hiker = DecisionProfile("p-1", lifecycle="active", affinities={"hiking": 0.9})
    assert set((await check(items, context(profile=hiker))).values()) == {"ok"}
    assert reads_profile(items[0]) and not reads_profile(items[2])


async def test_frequency_caps_by_day_and_week() -> None:
    capped = stored("capped", frequency_cap={"per_day": 2, "per_week": 3})
    day, week = cap_fields("capped", NOW)
    assert (await check([capped], context(), caps={day: 1, week: 1}))["capped"] == "ok"
    assert (await check([capped], context(), caps={day: 2, week: 2}))["capped"] == (
        "frequency cap (day)"
    )
    assert (await check([capped], context(), caps={day: 0, week: 3}))["capped"] == (
        "frequency cap (week)"
    )
    assert cap_fields("capped", NOW + timedelta(days=1))[0] != day


async def test_an_item_already_on_the_page_is_not_used_again() -> None:
    verdicts = await check([stored("a"), stored("b")], context(), used={"a"})
    assert verdicts == {"a": "already placed on the page", "b": "ok"}


TARGETED = [
    stored("consider-only", targeting={"phases": ["consider"]}),
    stored("buy-moment", targeting={"moments": ["buy"]}),
    stored("after-purchase", targeting={"lifecycle_stages": ["new_customer", "active", "loyal"]}),
    stored("prefers-consider", targeting={"phases": ["consider"], "prefer": True}),
    stored("open"),
]


async def test_targeting_is_a_requirement_unless_the_item_prefers() -> None:
    verdicts = await check(TARGETED, context(phase="purchase", moment="know"))
    assert verdicts == {
        "consider-only": "phase", "buy-moment": "moment", "after-purchase": "lifecycle stage",
        "prefers-consider": "ok", "open": "ok",
    }  # fmt: skip


async def test_an_unknown_phase_or_moment_excludes_nothing() -> None:
    verdicts = await check(TARGETED, context())
    assert verdicts["consider-only"] == "ok"
    assert verdicts["buy-moment"] == "ok"
    # the lifecycle is always known: without a consented profile the visitor is anonymous
    assert verdicts["after-purchase"] == "lifecycle stage"


async def test_after_purchase_items_reach_customers_only() -> None:
    customer = context(profile=DecisionProfile("p-1", lifecycle="active"))
    assert (await check(TARGETED, customer))["after-purchase"] == "ok"
    prospect = context(profile=DecisionProfile("p-2", lifecycle="prospect"))
    assert (await check(TARGETED, prospect))["after-purchase"] == "lifecycle stage"


async def test_the_fast_mask_agrees_with_the_rules() -> None:
    pool = await make_pool([i.draft() for i in TARGETED])
    features = FeatureIndex(None).features(TARGETED)
    for ctx in (context(phase="purchase", moment="know"), context(),
                context(phase="consider", moment="buy",
                        profile=DecisionProfile("p-1", lifecycle="loyal"))):  # fmt: skip
        kept, _ = Eligibility(pool).filter(TARGETED, ctx, now=NOW)
        mask = Eligibility(pool).mask(features, ctx, now=NOW)
        assert [i.id for i, ok in zip(TARGETED, mask, strict=True) if ok] == [i.id for i in kept]
