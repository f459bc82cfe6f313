"""The live pool index: eligibility by slot, channel, language, validity and status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from content_pool.models import ContentDraft
from content_pool.pool import ContentPool
from content_pool.storage import MemoryContentStore
from tests.content_pool.factories import make_draft

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


async def pool_with(*drafts: ContentDraft) -> ContentPool:
    store = MemoryContentStore()
    for draft in drafts:
        await store.put(draft)
    pool = ContentPool(store)
    await pool.refresh()
    return pool


async def test_eligible_filters_by_placement_and_orders_by_priority() -> None:
    pool = await pool_with(
        make_draft(id="hero-de-low", priority=10),
        make_draft(id="hero-de-high", priority=90),
        make_draft(id="hero-en", language="en"),
        make_draft(id="hero-email", channel="email"),
        make_draft(id="sidebar-de", slot="sidebar"),
    )
    assert [i.id for i in pool.eligible("hero", "web", "de", NOW)] == [
        "hero-de-high",
        "hero-de-low",
    ]
    assert [i.id for i in pool.eligible("hero", "web", "en", NOW)] == ["hero-en"]
    assert [i.id for i in pool.eligible("hero", "email", "de", NOW)] == ["hero-email"]
    assert [i.id for i in pool.eligible("sidebar", "web", "de", NOW)] == ["sidebar-de"]
    assert pool.eligible("hero", "web", "fr", NOW) == ()
    assert pool.eligible("footer", "web", "de", NOW) == ()


async def test_only_live_items_are_indexed() -> None:
    pool = await pool_with(
        make_draft(id="live"),
        make_draft(id="draft", status="draft"),
        make_draft(id="archived", status="archived"),
    )
    assert [i.id for i in pool.eligible("hero", "web", "de", NOW)] == ["live"]
    assert len(pool) == 1 and pool.get("draft") is None


async def test_validity_window_is_half_open() -> None:
    start, end = NOW - timedelta(days=1), NOW + timedelta(days=1)
    pool = await pool_with(
        make_draft(id="always"),
        make_draft(id="campaign", valid_from=start, valid_to=end),
        make_draft(id="future", valid_from=end),
        make_draft(id="past", valid_to=start),
    )

    def ids(at: datetime) -> set[str]:
        return {i.id for i in pool.eligible("hero", "web", "de", at)}

    assert ids(NOW) == {"always", "campaign"}
    assert ids(start) == {"always", "campaign"}  # past ends where campaign starts
    assert ids(end) == {"always", "future"}
    assert ids(start - timedelta(days=1)) == {"always", "past"}


async def test_refresh_picks_up_edits() -> None:
    store = MemoryContentStore()
    await store.put(make_draft(id="a"))
    pool = ContentPool(store)
    await pool.refresh()
    await store.put(make_draft(id="a", status="archived"))
    await store.put(make_draft(id="b"))
    assert [i.id for i in pool.eligible("hero", "web", "de", NOW)] == ["a"]  # a snapshot
    await pool.refresh()
    assert [i.id for i in pool.eligible("hero", "web", "de", NOW)] == ["b"]


async def test_defaults_per_slot_and_language() -> None:
    pool = await pool_with(
        make_draft(id="hero-default-de", is_default=True),
        make_draft(id="hero-default-en", is_default=True, language="en"),
        make_draft(id="hero-special-de"),
        make_draft(id="push-default-de", slot="hero", channel="push", is_default=True),
        make_draft(id="hero-default-old", is_default=True, status="archived"),
    )
    assert [i.id for i in pool.defaults("hero", "de")] == ["hero-default-de", "push-default-de"]
    assert [i.id for i in pool.defaults("hero", "de", channel="web")] == ["hero-default-de"]
    assert [i.id for i in pool.defaults("hero", "en")] == ["hero-default-en"]
    assert pool.defaults("sidebar", "de") == ()


async def test_audience_condition_compiled_once_and_evaluated() -> None:
    pool = await pool_with(
        make_draft(id="mobile", targeting={"audience": 'device.type == "mobile"'}),
        make_draft(id="everyone"),
    )
    mobile, everyone = pool.get("mobile"), pool.get("everyone")
    assert mobile is not None and everyone is not None
    assert pool.audience_matches(mobile, {"device": {"type": "mobile"}})
    assert not pool.audience_matches(mobile, {"device": {"type": "desktop"}})
    assert not pool.audience_matches(mobile, {})
    assert pool.audience_matches(everyone, {})


async def test_placements_lists_indexed_buckets() -> None:
    pool = await pool_with(make_draft(id="a"), make_draft(id="b", language="en", channel="email"))
    assert list(pool.placements()) == [("hero", "email", "en"), ("hero", "web", "de")]


async def test_tagged_finds_live_items_by_tag_and_language() -> None:
    pool = await pool_with(
        make_draft(id="track-de", slot="chat_reply", channel="chat", tags=["intent:track_order"]),
        make_draft(
            id="track-de-urgent", slot="chat_reply", channel="chat", priority=90,
            tags=["intent:track_order", "urgent"],
        ),
        make_draft(id="track-en", language="en", tags=["intent:track_order"]),
        make_draft(id="track-old", status="archived", tags=["intent:track_order"]),
    )  # fmt: skip
    assert [i.id for i in pool.tagged("intent:track_order", "de")] == [
        "track-de-urgent",
        "track-de",
    ]
    assert [i.id for i in pool.tagged("intent:track_order", "en")] == ["track-en"]
    assert pool.tagged("intent:unknown", "de") == ()


async def test_apply_and_forget_update_the_index_without_the_store() -> None:
    pool = await pool_with(make_draft(id="a", priority=10), make_draft(id="b", priority=20))
    store = MemoryContentStore()
    raised = await store.put(make_draft(id="a", priority=90))
    pool.apply(raised)
    assert [i.id for i in pool.eligible("hero", "web", "de", NOW)] == ["a", "b"]
    archived = await store.put(make_draft(id="a", status="archived"))
    pool.apply(archived)
    assert [i.id for i in pool.eligible("hero", "web", "de", NOW)] == ["b"]
    pool.forget("b")
    assert len(pool) == 0 and pool.eligible("hero", "web", "de", NOW) == ()
