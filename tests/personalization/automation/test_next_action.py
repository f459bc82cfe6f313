"""The planner's rules in isolation: quiet hours, consent, the cap, content, and the real-time
next action (human handover, retention offer, on-site cart reminder)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from intent.model import IntentPrediction, Scored
from intent.situation.models import Device, Language, Situation, Source
from personalization.automation.next_action import NextActionPlanner, QuietHours
from personalization.automation.person import Person
from personalization.automation.programmes import load_programmes, loads_programmes
from personalization.profiles.profile import Profile
from personalization.store.memory_store import MemoryStore
from tests.personalization.automation.test_automation import small_pool

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def situation(language: str | None = "de") -> Situation:
    return Situation(
        device=Device(type="desktop"), source=Source(medium="direct"),
        language=Language(code=language, source="accept_language" if language else "none"),
        country="DE", timezone="Europe/Berlin", local_time="10:00", daypart="morning",
        weekday="monday", is_weekend=False, is_returning=True, page_views_in_session=3,
        evidence=[],
    )


def prediction(intent: str, phase: str, moment: str) -> IntentPrediction:
    return IntentPrediction(
        intent=Scored(name=intent, confidence=0.9), ranking=[Scored(name=intent, confidence=0.9)],
        phase=Scored(name=phase, confidence=0.8), moment=Scored(name=moment, confidence=0.8),
        out_of_scope=False, language="de", reasons=[], model_version="test",
    )


def profile(**fields: Any) -> Profile:
    return Profile.model_validate({"profile_id": "anna", "created_at": NOW, "updated_at": NOW,
                                   **fields})


@pytest.fixture
def planner() -> NextActionPlanner:
    return NextActionPlanner(load_programmes(), pool=small_pool(), caps=MemoryStore())


# -- quiet hours ---------------------------------------------------------------------------------
@pytest.mark.parametrize("local, expected", [
    ("2026-03-02 22:30", "2026-03-03 08:00"),
    ("2026-03-03 03:00", "2026-03-03 08:00"),
    ("2026-03-02 20:59", "2026-03-02 20:59"),
    ("2026-03-03 08:00", "2026-03-03 08:00"),
])
def test_quiet_hours_over_midnight(local: str, expected: str) -> None:
    quiet = QuietHours(start=time(21), end=time(8))
    when = datetime.fromisoformat(local).replace(tzinfo=BERLIN).astimezone(UTC)
    moved = quiet.next_allowed(when, BERLIN)
    assert moved.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M") == expected


def test_quiet_hours_within_a_day_and_switched_off() -> None:
    lunch = QuietHours(start=time(12), end=time(14))
    when = datetime(2026, 3, 2, 12, 30, tzinfo=BERLIN)
    assert lunch.next_allowed(when, BERLIN) == datetime(2026, 3, 2, 14, 0, tzinfo=BERLIN)
    assert QuietHours(start=time(0), end=time(0)).next_allowed(when, BERLIN) == when


# -- planning a scheduled step ---------------------------------------------------------------------
async def test_plan_uses_the_first_consented_channel_and_explains(
    planner: NextActionPlanner,
) -> None:
    cart = planner.programmes.get("cart_abandonment")
    assert cart is not None
    person = Person("anna", known=True, consents={"sms": True}, cart_items=1)
    plan = await planner.plan(person, cart, cart.action, NOW + timedelta(hours=1), NOW)
    assert plan.action is not None and plan.action.channel == "sms"
    assert plan.action.reasons[:2] == ["email skipped: no consent for email",
                                       "push skipped: no consent for push"]
    nobody = Person("ben", known=True, cart_items=1)
    refused = await planner.plan(nobody, cart, cart.action, NOW, NOW)
    assert refused.action is None
    assert refused.reasons[0] == "cart_abandonment.reminder suppressed: no channel allowed"


async def test_transactional_steps_need_no_consent_and_ignore_quiet_hours(
    planner: NextActionPlanner,
) -> None:
    post = planner.programmes.get("post_purchase")
    assert post is not None
    night = datetime(2026, 3, 2, 23, 30, tzinfo=BERLIN)
    plan = await planner.plan(Person("anna", known=True), post, post.action, night, night)
    assert plan.action is not None
    assert (plan.action.channel, plan.action.send_at, plan.cap_field) == ("email", night, None)


async def test_the_cap_is_reserved_per_iso_week_in_local_time_and_released() -> None:
    store = MemoryStore()
    planner = NextActionPlanner(load_programmes(), caps=store, weekly_cap=1)
    welcome = planner.programmes.get("welcome")
    assert welcome is not None
    person = Person("anna", known=True, consents={"email": True})
    sunday_night = datetime(2026, 3, 8, 20, 0, tzinfo=BERLIN)
    first = await planner.plan(person, welcome, welcome.action, sunday_night, NOW)
    assert first.cap_field == "contact:email:2026-W10"
    second = await planner.plan(person, welcome, welcome.action, sunday_night, NOW)
    assert second.action is None
    # Quiet hours move this one to Monday morning: a new week, a new allowance.
    late = await planner.plan(person, welcome, welcome.action, sunday_night + timedelta(hours=2),
                              NOW)
    assert late.action is not None and late.cap_field == "contact:email:2026-W11"
    await planner.release("anna", first.cap_field)
    again = await planner.plan(person, welcome, welcome.action, sunday_night, NOW)
    assert again.action is not None


def test_content_prefers_tags_then_bought_categories_then_the_default(
    planner: NextActionPlanner,
) -> None:
    post = planner.programmes.get("post_purchase")
    assert post is not None
    cross_sell = post.follow_ups[0]
    tents = Person("a", bought_categories=["tents"])
    assert planner.content_for(cross_sell, "email", "de", tents, NOW)[0] == "mail-xsell-tents"
    review = post.follow_ups[1]
    item, why = planner.content_for(review, "email", "de", tents, NOW)
    assert item == "mail-default" and "default of email_block/email/de" in why
    assert planner.content_for(review, "email", "fr", tents, NOW) == (
        None, "no live content for email_block/email/fr")


# -- the real-time next action -------------------------------------------------------------------
def test_a_problem_of_a_valuable_customer_goes_to_a_human(planner: NextActionPlanner) -> None:
    valuable = profile(rfm={"orders": 4, "revenue": 820.0})
    action = planner.immediate(valuable, situation(), prediction("complaint", "use", "problem"),
                               NOW)
    assert action is not None
    assert (action.type, action.channel, action.programme) == ("human_handover", "chat",
                                                               "human_handover")
    assert "customer value 820 >= 500" in action.reasons
    assert action.send_at == NOW


def test_a_first_small_problem_stays_with_the_bot_a_repeated_one_does_not(
    planner: NextActionPlanner,
) -> None:
    small = profile(rfm={"orders": 1, "revenue": 40.0})
    assert planner.immediate(small, situation(), prediction("complaint", "use", "problem"),
                             NOW) is None
    again = profile(rfm={"orders": 1, "revenue": 40.0}, last_intents=[
        {"intent": "payment_problem", "phase": "purchase", "moment": "problem", "at": NOW}])
    action = planner.immediate(again, situation(), prediction("complaint", "use", "problem"), NOW)
    assert action is not None and action.type == "human_handover"
    assert "problem moment 2 time(s), threshold 2" in action.reasons


def test_asking_for_a_human_is_enough_even_anonymously(planner: NextActionPlanner) -> None:
    action = planner.immediate(None, None, prediction("human_handover", "use", "problem"), NOW)
    assert action is not None and action.type == "human_handover"
    assert action.profile_id is None


def test_churn_gets_a_retention_offer_on_site(planner: NextActionPlanner) -> None:
    customer = profile(rfm={"orders": 2, "revenue": 120.0})
    action = planner.immediate(customer, situation("de"),
                               prediction("cancel_account", "churn", "service"), NOW)
    assert action is not None
    assert (action.type, action.channel, action.incentive) == ("retention_offer", "chat", True)
    # Anonymous visitors are not made offers meant for customers.
    assert planner.immediate(profile(anonymous=True), situation(),
                             prediction("cancel_account", "churn", "service"), NOW) is None


def test_a_full_cart_is_shown_again_on_site_and_handover_outranks_it(
    planner: NextActionPlanner,
) -> None:
    shopper = profile(cart={"items": [{"product_id": "tent-1", "price": 199.0}]},
                      rfm={"orders": 3, "revenue": 900.0})
    browsing = planner.immediate(shopper, situation(), prediction("product_advice", "consider",
                                                                  "know"), NOW)
    assert browsing is not None and (browsing.type, browsing.channel) == ("cart_reminder", "web")
    stuck = planner.immediate(shopper, situation(), prediction("payment_problem", "purchase",
                                                               "problem"), NOW)
    assert stuck is not None and stuck.type == "human_handover"
    assert planner.immediate(shopper, situation(), None, NOW) is None


def test_disabled_programmes_do_not_act() -> None:
    text = """
programmes:
  - id: human_handover
    name: Handover
    enabled: false
    trigger: {moment: problem}
    action: {id: handover, type: human_handover, channels: [chat]}
"""
    planner = NextActionPlanner(loads_programmes(text))
    assert planner.immediate(None, None, prediction("x", "use", "problem"), NOW) is None
