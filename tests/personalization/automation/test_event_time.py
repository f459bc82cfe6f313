"""Event time and contact pressure on every backend: automation is timed from when an event
happened, a step whose moment has passed is skipped (not sent late), an old event changes the
history but not who counts as active, and one weekly cap holds across email, SMS and push."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from personalization.automation.action_record import ActionRecord, plan_record
from personalization.automation.engine import Automation
from personalization.automation.memory_scheduler import MemoryScheduler
from personalization.automation.next_action import NextActionPlanner, QuietHours
from personalization.automation.person import Person
from personalization.automation.programmes import load_programmes, loads_programmes
from personalization.automation.redis_scheduler import RedisScheduler
from personalization.clock import FrozenClock
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.lifecycle import Stage
from personalization.profiles.service import ProfileService
from personalization.store.memory_store import MemoryStore
from personalization.store.redis_store import RedisStore
from tests.conftest import Backend
from tests.factories import make_store
from tests.personalization.automation.test_automation import purchase, small_pool

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Berlin
EIGHT_MONTHS_AGO = T0 - timedelta(days=243)


class World:
    """The automation stack on one backend (memory, Redis, Redis Cluster), at a time the test
    moves: real events through the profile service, the bundled programmes, the scheduler."""

    def __init__(self, backend: Backend) -> None:
        self.clock = FrozenClock(T0)
        self.store = make_store(backend, clock=self.clock, profile_ttl=timedelta(days=800))
        self.planner = NextActionPlanner(
            load_programmes(), pool=small_pool(), caps=self.store, quiet_hours=QuietHours(),
            default_timezone="Europe/Berlin")
        self.scheduler: MemoryScheduler | RedisScheduler = (
            RedisScheduler(self.store) if isinstance(self.store, RedisStore)
            else MemoryScheduler(self.store))
        self.automation = Automation(self.planner, self.scheduler, clock=self.clock)
        self.profiles = ProfileService(self.store, clock=self.clock, listeners=[self.automation])
        self.who = f"anna-{uuid.uuid4().hex[:6]}"

    async def event(self, kind: str, at: datetime | None = None, **properties: Any) -> None:
        raw: dict[str, Any] = {"event_id": uuid.uuid4().hex, "type": kind,
                               "profile_id": self.who,
                               "timestamp": (at or self.clock()).isoformat()}
        if properties:
            raw["properties"] = properties
        await self.profiles.ingest([parse_event(raw)])

    async def customer(self) -> None:
        await self.event("consent_update", consents={"email": True, "push": True})

    async def advance(self, **delta: float) -> list[ActionRecord]:
        """Move time and publish what became due, as the worker would."""
        self.clock.advance(**delta)
        return await self.scheduler.publish(
            await self.scheduler.claim(self.clock(), 1000), self.clock())

    async def pending(self) -> list[ActionRecord]:
        """Pending steps, leaving out the order anniversary (armed for its date)."""
        return [r for r in await self.actions(status="pending")
                if r.programme != "order_anniversary"]

    async def actions(self, **match: Any) -> list[ActionRecord]:
        return [r for r in await self.scheduler.actions(self.who)
                if all(getattr(r, k) == v for k, v in match.items())]


@pytest.fixture
async def world(backend: Backend) -> AsyncIterator[World]:
    yield World(backend)


async def test_an_eight_month_old_purchase_updates_the_history_and_sends_nothing(
    world: World,
) -> None:
    await world.customer()
    await world.event("purchase", at=EIGHT_MONTHS_AGO, **purchase(value=120.0))
    profile = await world.profiles.get(world.who)
    assert (profile.rfm.orders, profile.rfm.revenue) == (1, 120.0)
    assert profile.rfm.last_order_at == EIGHT_MONTHS_AGO
    assert profile.stage == Stage.at_risk  # 243 days without an order, as it truly is
    # ... but since 153 days (the order was 90 days old then), not since today.
    assert profile.lifecycle.history[-1].at == EIGHT_MONTHS_AGO + timedelta(days=90)
    # Only the order's first anniversary waits, on its day (a date, not a late reaction).
    (anniversary,) = await world.actions(status="pending")
    assert anniversary.programme == "order_anniversary"
    assert anniversary.send_at.date() == (EIGHT_MONTHS_AGO + timedelta(days=365)).date()
    skipped = {(r.programme, r.step): r.note for r in await world.actions(status="skipped")}
    assert set(skipped) == {("post_purchase", "confirmation"), ("post_purchase", "cross_sell"),
                            ("post_purchase", "review_request"), ("reactivation", "we_miss_you")}
    assert skipped["post_purchase", "confirmation"] == (
        "the moment has passed: purchase was 243 days ago (confirmation goes out at most 1h late)")
    assert "purchase was 243 days ago" in str(skipped["post_purchase", "review_request"])
    assert "becoming at_risk was 153 days ago" in str(skipped["reactivation", "we_miss_you"])
    assert await world.advance(days=30) == []


async def test_an_old_purchase_neither_restarts_nor_makes_an_active_customer_look_inactive(
    world: World,
) -> None:
    await world.customer()
    await world.event("purchase", **purchase())
    (confirmation,) = await world.advance(seconds=1)
    assert confirmation.step == "confirmation"
    await world.event("purchase", at=EIGHT_MONTHS_AGO, **purchase())
    profile = await world.profiles.get(world.who)
    assert profile.rfm.orders == 2
    assert profile.rfm.last_order_at == T0
    assert profile.stage == Stage.active
    # The run of the recent order goes on (reentry "restart" is not set off by old news).
    pending = [(r.step, r.send_at) for r in await world.pending()]
    assert pending == [("cross_sell", T0 + timedelta(days=3)),
                       ("review_request", T0 + timedelta(days=7))]
    assert await world.actions(programme="reactivation") == []


async def test_an_old_purchase_does_not_make_a_lapsed_customer_active(world: World) -> None:
    await world.customer()
    await world.event("purchase", **purchase())
    await world.advance(days=400)
    await world.profiles.refresh([world.who])
    assert (await world.profiles.get(world.who)).stage == Stage.lapsed
    before = await world.actions(programme="reactivation")
    await world.event("purchase", at=T0 + timedelta(days=20), **purchase())  # 380 days ago
    profile = await world.profiles.get(world.who)
    assert (profile.rfm.orders, profile.stage) == (2, Stage.lapsed)
    assert await world.actions(programme="reactivation") == before
    assert await world.pending() == []


async def test_a_cart_abandoned_a_month_ago_gets_no_reminder_today(world: World) -> None:
    await world.customer()
    await world.event("add_to_cart", at=T0 - timedelta(days=30), product_id="tent-1",
                      category="tents", price=199.0)
    assert len((await world.profiles.get(world.who)).cart.items) == 1
    assert [(r.step, r.status) for r in await world.actions(programme="cart_abandonment")] == [
        ("reminder", "skipped"), ("incentive", "skipped")]
    (reminder,) = await world.actions(step="reminder")
    assert reminder.note is not None
    assert reminder.note.startswith("the moment has passed: add_to_cart was 30 days ago")
    assert await world.advance(days=3) == []


async def test_a_fresh_cart_and_a_fresh_purchase_work_as_before(world: World) -> None:
    await world.customer()
    await world.event("add_to_cart", at=T0 - timedelta(minutes=5), product_id="tent-1",
                      category="tents", price=199.0)
    (reminder,) = await world.advance(minutes=55)
    assert (reminder.step, reminder.send_at) == ("reminder", T0 + timedelta(minutes=55))
    await world.event("purchase", **purchase())
    published = await world.advance(seconds=1)
    assert [r.step for r in published] == ["confirmation"]
    assert [r.step for r in await world.advance(days=3)] == ["cross_sell"]
    assert [r.step for r in await world.advance(days=4)] == ["review_request"]


async def test_a_purchase_two_hours_old_gets_the_steps_whose_windows_are_open(
    world: World,
) -> None:
    await world.customer()
    bought = T0 - timedelta(hours=2)
    await world.event("purchase", at=bought, **purchase())
    (confirmation,) = await world.actions(step="confirmation")
    assert confirmation.status == "skipped"
    assert confirmation.note == (
        "the moment has passed: purchase was 2 hours ago (confirmation goes out at most 1h late)")
    assert [(r.step, r.send_at) for r in await world.pending()] == [
        ("cross_sell", bought + timedelta(days=3)), ("review_request", bought + timedelta(days=7))]
    assert await world.advance(seconds=1) == []
    assert [r.step for r in await world.advance(days=3)] == ["cross_sell"]
    assert [r.step for r in await world.advance(days=4)] == ["review_request"]


async def test_a_purchase_a_few_minutes_old_is_still_confirmed(world: World) -> None:
    await world.customer()
    await world.event("purchase", at=T0 - timedelta(minutes=40), **purchase())
    (confirmation,) = await world.advance(seconds=1)
    assert confirmation.step == "confirmation"


async def test_a_step_no_worker_took_in_time_is_skipped_not_sent_late(world: World) -> None:
    await world.customer()
    await world.event("purchase", **purchase())
    (confirmation,) = await world.actions(step="confirmation")
    assert confirmation.expires_at == T0 + timedelta(hours=1)
    assert await world.advance(hours=2) == []  # the workers were down for two hours
    (confirmation,) = await world.actions(step="confirmation")
    assert (confirmation.status, confirmation.note) == ("skipped", (
        "the moment has passed: due 2 hours ago (confirmation goes out at most 1h late)"))
    assert [r.step for r in await world.pending()] == ["cross_sell", "review_request"]
    assert [r.step for r in await world.advance(days=3)] == ["cross_sell"]


# -- contact pressure ---------------------------------------------------------------------------
ONE_PER_CHANNEL = loads_programmes("""
programmes:
  - id: news
    name: News
    trigger: {event: newsletter_signup}
    action: {id: mail, type: news, channels: [email]}
    follow_ups:
      - {id: text, type: news, channels: [sms]}
      - {id: ping, type: news, channels: [push]}
""")
MAIL, TEXT, PING = ONE_PER_CHANNEL.programmes[0].steps


def planner_on(store: MemoryStore | RedisStore, *, weekly_cap: int = 3,
               weekly_cap_total: int | None = 4) -> NextActionPlanner:  # fmt: skip
    return NextActionPlanner(ONE_PER_CHANNEL, caps=store, weekly_cap=weekly_cap,
                             weekly_cap_total=weekly_cap_total,
                             quiet_hours=QuietHours(start=T0.time(), end=T0.time()))


def reachable(profile_id: str) -> Person:
    return Person(profile_id=profile_id, consents={"email": True, "sms": True, "push": True})


async def test_the_fifth_message_of_a_week_across_channels_is_held_back(backend: Backend) -> None:
    planner = planner_on(make_store(backend))
    person, (programme,) = reachable("ana"), ONE_PER_CHANNEL.programmes
    for step in (MAIL, TEXT, PING, MAIL):
        assert (await planner.plan(person, programme, step, T0, T0)).action is not None
    held = await plan_record(planner, person, programme, TEXT, T0, "run", None, ["test"], T0)
    assert held.status == "suppressed"
    assert held.note == "news.text held back: 4 messages this week across channels (cap 4)"
    assert "held back: 4 messages this week across channels (cap 4)" in held.reasons
    # Wednesday of the same week: still held back; the next Monday: through again.
    wednesday = T0 + timedelta(days=2)
    assert (await planner.plan(person, programme, PING, wednesday, wednesday)).action is None
    monday = T0 + timedelta(days=7)
    plan = await planner.plan(person, programme, TEXT, monday, monday)
    assert plan.action is not None and plan.action.channel == "sms"
    # Another person has a week of their own.
    assert (await planner.plan(reachable("ben"), programme, MAIL, T0, T0)).action is not None


async def test_the_per_channel_cap_still_holds_under_the_total(backend: Backend) -> None:
    planner = planner_on(make_store(backend), weekly_cap=2, weekly_cap_total=4)
    person, (programme,) = reachable("ana"), ONE_PER_CHANNEL.programmes
    for _ in range(2):
        assert (await planner.plan(person, programme, MAIL, T0, T0)).action is not None
    plan = await planner.plan(person, programme, MAIL, T0, T0)
    assert plan.action is None
    assert "email skipped: 2 messages this week already (contact-pressure cap)" in plan.reasons
    # The refused mail used none of the week: two more messages on other channels go out.
    assert (await planner.plan(person, programme, TEXT, T0, T0)).action is not None
    assert (await planner.plan(person, programme, PING, T0, T0)).action is not None
    assert (await planner.plan(person, programme, PING, T0, T0)).action is None


async def test_a_cancelled_step_gives_its_place_back_under_both_caps(backend: Backend) -> None:
    planner = planner_on(make_store(backend))
    person, (programme,) = reachable("ana"), ONE_PER_CHANNEL.programmes
    plans = [await planner.plan(person, programme, step, T0, T0)
             for step in (MAIL, TEXT, PING, PING)]
    assert (await planner.plan(person, programme, MAIL, T0, T0)).action is None
    await planner.release("ana", plans[0].cap_field)
    assert (await planner.plan(person, programme, MAIL, T0, T0)).action is not None


async def test_steps_planned_at_once_never_pass_the_total_cap(backend: Backend) -> None:
    planner = planner_on(make_store(backend), weekly_cap=20)
    person, (programme,) = reachable("ana"), ONE_PER_CHANNEL.programmes
    plans = await asyncio.gather(*(planner.plan(person, programme, MAIL, T0, T0)
                                   for _ in range(12)))
    assert sum(p.action is not None for p in plans) == 4
