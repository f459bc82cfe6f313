"""Automation end to end with an injected clock: real events through the profile service, the
default programmes, the planner and the in-process scheduler; what is published, when, and why."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from content_pool.models import ContentItem
from content_pool.pool import ContentPool
from content_pool.storage import MemoryContentStore
from personalization.automation.action_record import ActionRecord
from personalization.automation.engine import Automation
from personalization.automation.memory_scheduler import MemoryScheduler
from personalization.automation.next_action import NextActionPlanner, QuietHours
from personalization.automation.programmes import ProgrammeSet, load_programmes, loads_programmes
from personalization.clock import FrozenClock
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.service import ProfileService
from personalization.store.memory_store import MemoryStore

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin


def content_item(item_id: str, channel: str, slot: str, tags: list[str],
                 categories: list[str] | None = None, language: str = "de") -> ContentItem:
    return ContentItem.model_validate({
        "id": item_id, "title": item_id, "slot": slot, "channel": channel, "language": language,
        "template": "Hallo", "tags": tags, "status": "live", "version": 1, "updated_at": T0,
        "targeting": {"categories": categories or []},
    })


def small_pool() -> ContentPool:
    pool = ContentPool(MemoryContentStore())
    pool.load([
        content_item("mail-welcome", "email", "email_block", ["welcome"]),
        content_item("mail-cart", "email", "email_block", ["cart", "trigger"]),
        content_item("mail-cart-coupon", "email", "email_block", ["cart", "coupon"]),
        content_item("push-cart", "push", "notification", ["cart"]),
        content_item("mail-xsell-tents", "email", "email_block", ["cross-sell"], ["tents"]),
        content_item("mail-xsell-shoes", "email", "email_block", ["cross-sell"], ["shoes"]),
        content_item("mail-xsell-health", "email", "email_block", ["cross-sell"], ["health"]),
        content_item("mail-retention", "email", "email_block", ["retention"]),
        content_item("mail-default", "email", "email_block", []).model_copy(
            update={"is_default": True}),
    ])
    return pool


class World:
    """The automation stack in one process, at a time the test moves."""

    def __init__(self, *, weekly_cap: int = 10, weekly_cap_total: int | None = None) -> None:
        self.clock = FrozenClock(T0)
        self.store = MemoryStore(clock=self.clock)
        self.planner = NextActionPlanner(
            load_programmes(), pool=small_pool(), caps=self.store, weekly_cap=weekly_cap,
            weekly_cap_total=weekly_cap_total, quiet_hours=QuietHours(),
            default_timezone="Europe/Berlin")
        self.scheduler = MemoryScheduler(self.store)
        self.automation = Automation(self.planner, self.scheduler, clock=self.clock)
        self.profiles = ProfileService(self.store, clock=self.clock, listeners=[self.automation])
        self.sent: list[ActionRecord] = []

    async def event(self, kind: str, profile_id: str = "anna", **properties: Any) -> None:
        raw: dict[str, Any] = {"event_id": uuid.uuid4().hex, "type": kind,
                               "profile_id": profile_id, "timestamp": self.clock().isoformat()}
        if properties:
            raw["properties"] = properties
        await self.profiles.ingest([parse_event(raw)])

    async def customer(self, profile_id: str = "anna", *channels: str) -> None:
        await self.event("consent_update", profile_id,
                         consents={c: True for c in channels or ("email",)})
        await self.event("account_created", profile_id)

    async def advance(self, **delta: float) -> list[ActionRecord]:
        """Move time and publish what became due, as the worker would."""
        self.clock.advance(**delta)
        published = await self.scheduler.publish(
            await self.scheduler.claim(self.clock(), 1000), self.clock())
        self.sent += published
        return published

    async def actions(self, profile_id: str = "anna", **match: Any) -> list[ActionRecord]:
        return [r for r in await self.scheduler.actions(profile_id)
                if all(getattr(r, k) == v for k, v in match.items())]


def purchase(value: float = 80.0, category: str = "tents") -> dict[str, Any]:
    return {"order_id": uuid.uuid4().hex, "value": value, "currency": "EUR",
            "items": [{"product_id": "p1", "category": category, "price": value}]}


@pytest.fixture
def world() -> World:
    return World()


# -- welcome series ----------------------------------------------------------------------------
async def test_welcome_then_profile_completion_three_days_later(world: World) -> None:
    await world.event("consent_update", consents={"email": True})
    await world.event("account_created")
    (welcome,) = await world.advance(seconds=1)
    assert (welcome.programme, welcome.step, welcome.channel) == ("welcome", "welcome", "email")
    assert welcome.content_id == "mail-welcome"
    assert any("account_created" in r for r in welcome.reasons)
    assert await world.advance(days=2, hours=23) == []
    (completion,) = await world.advance(hours=1)
    assert completion.type == "profile_completion"
    assert completion.send_at == T0 + timedelta(days=3)


async def test_completing_the_profile_cancels_the_reminder_and_welcome_runs_once(
    world: World,
) -> None:
    await world.customer()
    await world.advance(seconds=1)
    await world.event("profile_update", first_name="Anna", birthday="1990-07-14")
    await world.event("newsletter_signup")  # would trigger welcome again: reentry is "once"
    assert [r.type for r in await world.advance(days=4)] == []
    (completion,) = await world.actions(step="complete_profile")
    assert completion.status == "cancelled"
    assert completion.note and "profile complete" in completion.note
    assert len(await world.actions(step="welcome")) == 1


# -- cart abandonment -------------------------------------------------------------------------
async def test_cart_reminder_after_an_hour_then_incentive_a_day_later(world: World) -> None:
    await world.customer()
    await world.advance(seconds=1)
    await world.event("add_to_cart", product_id="tent-1", category="tents", price=199.0)
    assert await world.advance(minutes=59) == []
    (reminder,) = await world.advance(minutes=1, seconds=1)
    assert (reminder.step, reminder.content_id, reminder.incentive) == (
        "reminder", "mail-cart", False)
    assert await world.advance(hours=23) == []
    (incentive,) = await world.advance(hours=1)
    assert (incentive.step, incentive.content_id, incentive.incentive) == (
        "incentive", "mail-cart-coupon", True)


async def test_a_purchase_cancels_the_pending_cart_reminders(world: World) -> None:
    await world.customer()
    await world.event("add_to_cart", product_id="tent-1", category="tents", price=199.0)
    await world.advance(minutes=30)
    await world.event("purchase", **purchase(199.0))
    published = await world.advance(seconds=1) + await world.advance(days=2)
    assert "post_purchase" in {r.programme for r in published}
    assert "cart_abandonment" not in {r.programme for r in published}
    cart = await world.actions(programme="cart_abandonment")
    assert {r.step: r.status for r in cart} == {"reminder": "cancelled", "incentive": "cancelled"}
    assert all(r.note and r.note.startswith("cancelled by purchase") for r in cart)


async def test_a_new_cart_change_restarts_the_clock(world: World) -> None:
    await world.customer()
    await world.event("add_to_cart", product_id="a", price=10.0)
    await world.advance(minutes=40)
    await world.event("add_to_cart", product_id="b", price=10.0)
    assert [r for r in await world.advance(minutes=30) if r.programme == "cart_abandonment"] == []
    reminders = [r for r in await world.advance(minutes=31) if r.programme == "cart_abandonment"]
    assert [r.step for r in reminders] == ["reminder"]
    assert reminders[0].send_at == T0 + timedelta(minutes=100)


# -- browse abandonment --------------------------------------------------------------------------
async def test_browse_abandonment_a_day_later_unless_something_went_into_the_cart(
    world: World,
) -> None:
    await world.customer("bob")
    await world.customer("carl")
    await world.event("product_view", "bob", product_id="boot-1", category="shoes")
    await world.event("product_view", "carl", product_id="boot-1", category="shoes")
    await world.advance(hours=2)
    await world.event("add_to_cart", "carl", product_id="boot-1", price=120.0)
    published = [r for r in await world.advance(days=1) if r.programme == "browse_abandonment"]
    assert [r.profile_id for r in published] == ["bob"]
    (carl,) = await world.actions("carl", programme="browse_abandonment")
    assert carl.status == "cancelled"


# -- post-purchase ------------------------------------------------------------------------------
async def test_post_purchase_confirmation_cross_sell_and_review(world: World) -> None:
    await world.event("account_created")  # no marketing consent at all
    await world.event("purchase", **purchase(80.0, "shoes"))
    (confirmation,) = [r for r in await world.advance(seconds=1) if r.programme == "post_purchase"]
    assert confirmation.type == "order_confirmation" and confirmation.transactional
    assert any("transactional" in r for r in confirmation.reasons)
    # Cross-sell is marketing: without consent for any of its channels it is suppressed.
    (cross_sell,) = await world.actions(step="cross_sell")
    assert cross_sell.status == "suppressed"
    assert "no consent for email" in " ".join(cross_sell.reasons)


async def test_cross_sell_fits_the_bought_categories_and_review_follows_delivery(
    world: World,
) -> None:
    await world.customer()
    await world.event("purchase", **purchase(80.0, "shoes"))
    await world.advance(seconds=1)
    (cross_sell,) = [r for r in await world.advance(days=3) if r.programme == "post_purchase"]
    assert (cross_sell.step, cross_sell.content_id) == ("cross_sell", "mail-xsell-shoes")
    (review,) = [r for r in await world.advance(days=4) if r.programme == "post_purchase"]
    assert review.step == "review_request" and review.send_at == T0 + timedelta(days=7)


@pytest.mark.parametrize("unlocked", [False, True])
async def test_a_sensitive_purchase_feeds_cross_sell_only_with_explicit_consent(
    world: World, unlocked: bool
) -> None:
    await world.customer()
    if unlocked:
        await world.event("consent_update", consents={"sensitive": True})
    await world.event("purchase", **purchase(30.0, "health"))
    await world.advance(seconds=1)
    (cross_sell,) = [r for r in await world.advance(days=3) if r.programme == "post_purchase"]
    assert cross_sell.step == "cross_sell"
    assert (cross_sell.content_id == "mail-xsell-health") is unlocked
    assert ("health" in " ".join(cross_sell.reasons)) is unlocked


# -- dates ---------------------------------------------------------------------------------------
async def test_birthday_greeting_on_the_next_birthday_at_ten_local_time(world: World) -> None:
    await world.customer()
    await world.event("profile_update", birthday="1990-03-05", timezone="Europe/Berlin")
    (greeting,) = await world.actions(programme="birthday")
    assert greeting.send_at == datetime(2026, 3, 5, 10, 0, tzinfo=BERLIN)
    await world.event("login")  # a later event does not plan the same birthday twice
    assert len(await world.actions(programme="birthday")) == 1
    published = await world.advance(days=3, hours=1)
    assert [r.step for r in published if r.programme == "birthday"] == ["greeting"]
    await world.event("login")  # after it went out, next year's is armed
    upcoming = await world.actions(programme="birthday", status="pending")
    assert [r.send_at.date() for r in upcoming] == [date(2027, 3, 5)]


async def test_order_anniversary_a_year_after_the_first_order(world: World) -> None:
    await world.customer()
    await world.event("purchase", **purchase())
    (anniversary,) = await world.actions(programme="order_anniversary")
    assert anniversary.send_at == datetime(2027, 3, 2, 10, 0, tzinfo=BERLIN)


# -- reactivation and chains ---------------------------------------------------------------------
async def _at_risk(world: World, profile_id: str = "anna") -> ActionRecord:
    await world.customer(profile_id)
    await world.event("purchase", profile_id, **purchase())
    await world.advance(days=30)
    await world.advance(days=62)  # past at_risk_days (90) since the order
    await world.profiles.refresh([profile_id])
    (we_miss_you,) = [r for r in await world.advance(seconds=1)
                      if r.programme == "reactivation"]
    return we_miss_you


async def test_reactivation_when_at_risk_then_incentive_if_ignored(world: World) -> None:
    we_miss_you = await _at_risk(world)
    assert we_miss_you.step == "we_miss_you"
    assert any("became at_risk" in r for r in we_miss_you.reasons)
    (incentive,) = [r for r in await world.advance(days=7) if r.programme == "reactivation"]
    assert (incentive.step, incentive.incentive) == ("incentive", True)
    assert incentive.parent_id == we_miss_you.action_id


async def test_reactivation_when_lapsed_and_not_for_someone_who_came_back(world: World) -> None:
    for who in ("gone", "back"):
        await world.customer(who)
        await world.event("purchase", who, **purchase())
    await world.advance(days=300)
    await world.event("purchase", "back", **purchase())  # came back: 66 days ago at the refresh
    await world.advance(days=66)  # "gone": 366 days without an order, lapsed since yesterday
    await world.profiles.refresh(["gone", "back"])
    published = [r for r in await world.advance(seconds=1) if r.programme == "reactivation"]
    assert [(r.profile_id, r.step) for r in published] == [("gone", "we_miss_you")]
    assert any("became lapsed" in r for r in published[0].reasons)


async def test_a_click_on_we_miss_you_cancels_the_incentive_and_opens_the_clicked_branch(
    world: World,
) -> None:
    we_miss_you = await _at_risk(world)
    await world.advance(hours=5)
    await world.event("email_click", campaign_id=we_miss_you.action_id, url="https://x.test/")
    (clicked,) = await world.actions(action_id=we_miss_you.action_id)
    assert clicked.outcome == "clicked"
    published = [r for r in await world.advance(days=1) + await world.advance(days=7)
                 if r.programme == "reactivation"]
    assert [r.step for r in published] == ["thanks_for_coming_back"]
    assert published[0].send_at == T0 + timedelta(days=92, seconds=1, hours=5 + 24)
    (incentive,) = await world.actions(step="incentive")
    assert incentive.status == "cancelled" and incentive.note == "we_miss_you was clicked"


# -- the rules of the planner, seen through programmes ------------------------------------------
async def test_quiet_hours_move_the_reminder_to_the_morning_in_the_persons_timezone(
    world: World,
) -> None:
    await world.customer()
    await world.event("profile_update", timezone="America/New_York")
    world.clock.set(datetime(2026, 3, 3, 1, 30, tzinfo=UTC))  # 20:30 in New York
    await world.event("add_to_cart", product_id="a", price=10.0)
    (reminder,) = await world.actions(step="reminder")
    assert reminder.send_at == datetime(2026, 3, 3, 8, 0, tzinfo=ZoneInfo("America/New_York"))
    assert any("quiet hours 21:00–08:00" in r for r in reminder.reasons)
    assert [r for r in await world.advance(hours=11) if r.step == "reminder"] == []
    assert [r.step for r in await world.advance(hours=1)] == ["reminder"]


async def test_consent_per_channel_and_preferences_choose_the_channel(world: World) -> None:
    await world.event("account_created", "pia")
    await world.event("consent_update", "pia", consents={"push": True})
    await world.event("add_to_cart", "pia", product_id="a", price=10.0)
    (reminder,) = await world.actions("pia", step="reminder")
    assert (reminder.channel, reminder.content_id) == ("push", "push-cart")
    assert "email skipped: no consent for email" in reminder.reasons
    await world.event("account_created", "max")
    await world.event("consent_update", "max", consents={"email": True, "push": True})
    await world.event("profile_update", "max", channel_preferences=["push", "email"])
    await world.event("add_to_cart", "max", product_id="a", price=10.0)
    (reminder,) = await world.actions("max", step="reminder")
    assert reminder.channel == "push"


async def test_withdrawing_consent_cancels_pending_steps_on_that_channel(world: World) -> None:
    await world.customer()
    await world.event("add_to_cart", product_id="a", price=10.0)
    await world.event("consent_update", consents={"email": False})
    assert [r for r in await world.advance(days=2) if r.programme == "cart_abandonment"] == []
    assert {r.note for r in await world.actions(programme="cart_abandonment")} == {
        "consent for email withdrawn"}


async def test_the_weekly_cap_holds_across_programmes_per_channel() -> None:
    world = World(weekly_cap=2)
    await world.event("consent_update", consents={"email": True})
    await world.event("add_to_cart", product_id="a", price=10.0)  # reminder + incentive: 2 mails
    await world.event("profile_update", birthday="1990-03-04")  # a third mail this week
    (greeting,) = await world.actions(programme="birthday")
    assert greeting.status == "suppressed"
    assert "email skipped: 2 messages this week already (contact-pressure cap)" in greeting.reasons
    # With consent for push the greeting goes there: the cap is per channel.
    await world.event("consent_update", consents={"push": True})
    await world.event("profile_update", birthday="1990-03-05")
    (greeting,) = await world.actions(programme="birthday", status="pending")
    assert greeting.channel == "push"


async def test_cancelled_steps_give_their_place_under_the_cap_back() -> None:
    world = World(weekly_cap=2)
    await world.event("consent_update", consents={"email": True})
    await world.event("add_to_cart", product_id="a", price=10.0)
    world.clock.advance(minutes=10)
    await world.event("add_to_cart", product_id="b", price=10.0)  # restarts: old run cancelled
    assert [r.status for r in await world.actions(programme="cart_abandonment")] == [
        "cancelled", "pending", "cancelled", "pending"]


async def test_programmes_replaced_elsewhere_are_picked_up_after_the_refresh_interval() -> None:
    world = World()
    shared = {"programmes": world.planner.programmes}

    async def source() -> ProgrammeSet | None:
        return shared["programmes"]

    world.automation.programmes_source = source
    world.automation.refresh_every = timedelta(seconds=30)
    await world.customer()
    shared["programmes"] = loads_programmes("""
programmes:
  - id: cart_nudge
    name: Cart nudge
    trigger: {event: add_to_cart}
    action: {id: nudge, type: cart_reminder, channels: [email], delay: 2h}
""")
    await world.event("add_to_cart", product_id="a", price=5.0)  # within 30 s: old programmes
    world.clock.advance(seconds=31)
    await world.event("add_to_cart", product_id="b", price=5.0)  # refreshed: the new one
    started = [(r.programme, r.step) for r in await world.actions(status="pending")
               if r.programme in ("cart_abandonment", "cart_nudge")]
    assert started == [("cart_abandonment", "reminder"), ("cart_nudge", "nudge"),
                       ("cart_abandonment", "incentive")]
