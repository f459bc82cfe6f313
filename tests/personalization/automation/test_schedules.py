"""Calendar and time-since-purchase schedules, under the automation's rules, on a moved clock."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from personalization.automation.calendar_rule import CalendarRule
from personalization.automation.engine import Automation
from personalization.automation.memory_scheduler import MemoryScheduler
from personalization.automation.next_action import NextActionPlanner
from personalization.automation.programmes import parse_programmes
from personalization.automation.schedules import Schedules, parse_schedules
from personalization.clock import FrozenClock
from personalization.errors import InvalidSchedule
from personalization.experiments.definitions import MemoryDefinitions
from personalization.experiments.segments import SegmentFields, Segments
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.profile import ProfilePolicy
from personalization.profiles.service import ProfileService
from personalization.store.memory_store import MemoryStore

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("rule", "after", "expected"),
    [
        ("every first monday of the month at 10:00", T0, datetime(2026, 4, 6, 10, 0)),
        ("every first Monday of the month at 10:00", datetime(2026, 3, 1, tzinfo=UTC),
         datetime(2026, 3, 2, 10, 0)),
        ("every last friday of the month at 18:00", T0, datetime(2026, 3, 27, 18, 0)),
        ("every monday and thursday at 09:30", T0, datetime(2026, 3, 5, 9, 30)),
        ("every day at 08:00", T0, datetime(2026, 3, 4, 8, 0)),
        ("every 31st of the month at 10:00", datetime(2026, 4, 1, tzinfo=UTC),
         datetime(2026, 5, 31, 10, 0)),
        ("FREQ=MONTHLY;BYDAY=1MO;BYHOUR=10;BYMINUTE=0", T0, datetime(2026, 4, 6, 10, 0)),
        ("RRULE:FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18", T0, datetime(2026, 3, 27, 18, 0)),
        ("FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=30", T0, datetime(2026, 3, 5, 9, 30)),
        ("FREQ=MONTHLY;BYMONTHDAY=15;BYHOUR=7", T0, datetime(2026, 3, 15, 7, 0)),
    ],
)
def test_calendar_rules_find_the_next_local_occurrence(
    rule: str, after: datetime, expected: datetime
) -> None:
    at = CalendarRule.parse(rule).next_after(after, BERLIN)
    assert at == expected.replace(tzinfo=BERLIN)
    assert at is not None
    later = CalendarRule.parse(rule).next_after(at, BERLIN)
    assert later is not None and later > at  # strictly after


def test_first_monday_across_a_year_and_summer_time() -> None:
    rule = CalendarRule.parse("every first monday of the month at 10:00")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    seen = []
    for _ in range(12):
        found = rule.next_after(at, BERLIN)
        assert found is not None
        at = found
        seen.append(at)
    assert all(a.weekday() == 0 and a.day <= 7 and a.hour == 10 for a in seen)
    assert [a.month for a in seen] == list(range(1, 13))
    assert seen[2].utcoffset() == timedelta(hours=1) and seen[3].utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "rule",
    ["every blue moon", "every funday at 10:00", "every first monday of the month at 25:00",
     "every 32nd of the month", "FREQ=YEARLY", "FREQ=MONTHLY", "FREQ=WEEKLY",
     "FREQ=WEEKLY;BYDAY=1MO", "FREQ=DAILY;BYSETPOS=1", "FREQ=HOURLY", "FREQ=DAILY;COUNT=3",
     "DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "FREQ=DAILY;BYHOUR=24",
     "FREQ=MONTHLY;BYMONTHDAY=0", "FREQ=MONTHLY;BYDAY=XX", "FREQ=DAILY;INTERVAL=two",
     "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=DAILY;BYHOUR"],
)
def test_rules_that_cannot_be_read_are_refused(rule: str) -> None:
    with pytest.raises(InvalidSchedule):
        CalendarRule.parse(rule)


@pytest.mark.parametrize(
    ("rule", "message"),
    [("every funday at 10:00", "'funday' is not a weekday"),
     ("FREQ=YEARLY", "FREQ=YEARLY needs BYMONTHDAY or BYDAY"),
     ("FREQ=WEEKLY;BYDAY=1MO", "an ordinal BYDAY (1MO, -1FR) needs FREQ=MONTHLY or YEARLY"),
     ("FREQ=DAILY;COUNT=3", "RRULE parts not supported: COUNT"),
     ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never occurs")],
)
def test_refusals_say_what_is_wrong(rule: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=re.escape(message)):
        CalendarRule.parse(rule)


@pytest.mark.parametrize(
    ("rule", "after", "expected"),
    [
        # every other Tuesday: the same weeks for everyone, whenever it is asked
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=8", T0, datetime(2026, 3, 10, 8, 0)),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=8", datetime(2026, 3, 10, 12, tzinfo=UTC),
         datetime(2026, 3, 24, 8, 0)),
        ("FREQ=DAILY;INTERVAL=3;BYHOUR=7", T0, datetime(2026, 3, 5, 7, 0)),
        ("FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=10", T0, datetime(2026, 4, 1, 10, 0)),
        ("FREQ=MONTHLY;BYMONTH=6,12;BYMONTHDAY=1;BYHOUR=10", T0, datetime(2026, 6, 1, 10, 0)),
        ("FREQ=YEARLY;BYMONTH=11;BYDAY=-1FR;BYHOUR=6", T0, datetime(2026, 11, 27, 6, 0)),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", T0, datetime(2028, 2, 29, 9, 0)),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=16", T0,
         datetime(2026, 3, 31, 16, 0)),
        ("FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=20", T0, datetime(2026, 3, 31, 20, 0)),
        ("FREQ=MONTHLY;BYDAY=MO,TU;BYHOUR=9", T0, datetime(2026, 3, 9, 9, 0)),
        ("rrule:freq=weekly;byday=we;wkst=su", T0, datetime(2026, 3, 4, 9, 0)),
    ],
)
def test_rrule_parts_beyond_the_phrases(rule: str, after: datetime, expected: datetime) -> None:
    at = CalendarRule.parse(rule).next_after(after, BERLIN)
    assert at == expected.replace(tzinfo=BERLIN)


def test_interval_does_not_depend_on_when_it_is_asked() -> None:
    rule = CalendarRule.parse("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=8")
    asked = [T0 + timedelta(days=d, hours=h) for d in range(40) for h in (0, 21)]
    dates = {at.date() for at in (rule.next_after(a, BERLIN) for a in asked) if at is not None}
    assert sorted(dates) == [date(2026, 3, 10) + timedelta(weeks=2 * n) for n in range(4)]


def test_until_ends_the_rule() -> None:
    rule = CalendarRule.parse("FREQ=DAILY;UNTIL=20260305T235959;BYHOUR=8")
    assert rule.next_after(T0, BERLIN) == datetime(2026, 3, 4, 8, 0, tzinfo=BERLIN)
    assert rule.next_after(datetime(2026, 3, 5, 8, tzinfo=BERLIN), BERLIN) is None


def test_local_time_is_kept_across_both_changes_of_summer_time() -> None:
    rule = CalendarRule.parse("FREQ=DAILY;BYHOUR=10")
    spring = [rule.next_after(datetime(2026, 3, d, 12, tzinfo=UTC), BERLIN) for d in (27, 28, 29)]
    autumn = [rule.next_after(datetime(2026, 10, d, 12, tzinfo=UTC), BERLIN) for d in (23, 24, 25)]
    assert [a.hour for a in spring + autumn if a is not None] == [10] * 6
    assert [a.utcoffset() for a in spring if a is not None] == [
        timedelta(hours=1), timedelta(hours=2), timedelta(hours=2)]
    assert [a.utcoffset() for a in autumn if a is not None] == [
        timedelta(hours=2), timedelta(hours=1), timedelta(hours=1)]


def test_a_time_that_clocks_skip_is_read_before_the_change() -> None:
    rule = CalendarRule.parse("FREQ=DAILY;BYHOUR=2;BYMINUTE=30")
    at = rule.next_after(datetime(2026, 3, 28, 12, tzinfo=UTC), BERLIN)
    assert at is not None and at.date() == date(2026, 3, 29)
    assert at.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 summer time
    later = rule.next_after(at, BERLIN)
    assert later == datetime(2026, 3, 30, 2, 30, tzinfo=BERLIN)


def test_schedule_definitions_are_validated() -> None:
    with pytest.raises(ValidationError, match="either calendar or after_purchase"):
        parse_schedules([{"id": "x", "programme": "p"}])
    with pytest.raises(ValidationError, match="cannot read"):
        parse_schedules([{"id": "x", "programme": "p", "calendar": "sometimes"}])
    with pytest.raises(InvalidSchedule, match="unique"):
        parse_schedules({"schedules": [
            {"id": "x", "programme": "p", "calendar": "every day at 08:00"},
            {"id": "x", "programme": "p", "calendar": "every day at 09:00"},
        ]})  # fmt: skip


PROGRAMMES = parse_programmes({"programmes": [
    {"id": "service_reminder", "name": "Boot care", "trigger": {"event": "scheduled"},
     "cancel_on": ["purchase"],
     "action": {"id": "care", "type": "care_tips", "channels": ["email"]},
     "follow_ups": [{"id": "again", "type": "care_tips", "delay": "7d", "when": "ignored",
                     "channels": ["email"]}]},
    {"id": "monthly_tips", "name": "Monthly tips", "trigger": {"event": "scheduled"},
     "action": {"id": "tips", "type": "newsletter", "channels": ["email"]}},
    {"id": "baby_refill", "name": "Refill", "trigger": {"event": "scheduled"},
     "action": {"id": "refill", "type": "replenishment", "channels": ["email"]}},
]})  # fmt: skip
SCHEDULES = parse_schedules([
    {"id": "boot_care", "programme": "service_reminder",
     "after_purchase": {"category": "boots", "after": "30d"}},
    {"id": "tips", "programme": "monthly_tips",
     "calendar": "every first monday of the month at 10:00", "segment": "regulars"},
    {"id": "refill", "programme": "baby_refill",
     "after_purchase": {"category": "pregnancy", "after": "20d"}},
])  # fmt: skip


class World:
    """The real profile service, automation and scheduler, wired as the service wires them."""

    def __init__(self, weekly_cap: int = 3) -> None:
        self.clock = FrozenClock(T0)
        self.store = MemoryStore(clock=self.clock)
        self.scheduler = MemoryScheduler(self.store)
        planner = NextActionPlanner(PROGRAMMES, caps=self.store, weekly_cap=weekly_cap)
        self.segments = Segments(MemoryDefinitions(), clock=self.clock)
        self.service = ProfileService(self.store, clock=self.clock, policy=ProfilePolicy())
        self.service.add_listener(Automation(planner, self.scheduler, clock=self.clock))
        self.schedules = Schedules(SCHEDULES, planner, self.scheduler, segments=self.segments,
                                   clock=self.clock)  # fmt: skip
        self.service.add_listener(self.schedules)
        self.n = 0

    async def send(self, kind: str, who: str = "c1", **fields: Any) -> None:
        self.n += 1
        await self.service.ingest([parse_event(
            {"event_id": f"e{self.n}", "type": kind, "profile_id": who, **fields}
        )])  # fmt: skip

    async def buy(self, category: str, order: str, who: str = "c1") -> None:
        await self.send("purchase", who, properties={
            "order_id": order, "value": 80.0, "currency": "EUR",
            "items": [{"product_id": "p", "category": category}]})  # fmt: skip

    async def pending(self, who: str = "c1") -> list[tuple[str, str, datetime, str]]:
        return [(r.programme, r.step, r.send_at, r.status)
                for r in await self.scheduler.actions(who)]  # fmt: skip


async def consented(world: World, who: str = "c1") -> None:
    await world.send("consent_update", who,
                     properties={"consents": {"email": True, "personalisation": True}})


async def test_a_purchase_in_the_category_schedules_the_reminder_once() -> None:
    world = World()
    await consented(world)
    await world.buy("boots.winter", "o1")
    care_at = T0 + timedelta(days=30)
    assert await world.pending() == [
        ("service_reminder", "care", care_at, "pending"),
        ("service_reminder", "again", care_at + timedelta(days=7), "pending"),
    ]
    record = (await world.scheduler.actions("c1"))[0]
    assert record.reasons[0] == (
        "schedule boot_care: boots bought 2026-03-03, reminder after 30 days"
    )
    await world.buy("socks", "o2")  # another category: nothing new, but it cancels (cancel_on)
    assert [s for *_, s in await world.pending()] == ["cancelled", "cancelled"]
    await world.buy("boots", "o3")  # a new boot order re-arms
    assert [(p, s) for p, s, _, st in await world.pending() if st == "pending"] == [
        ("service_reminder", "care"), ("service_reminder", "again")
    ]
    before = await world.pending()
    await world.schedules.arm(await world.service.get("c1"),
                              [parse_event({"event_id": "e3-again", "type": "purchase",
                                            "profile_id": "c1", "properties": {
                                                "order_id": "o3", "value": 1.0, "currency": "EUR",
                                                "items": [{"product_id": "p",
                                                           "category": "boots"}]}})])
    assert await world.pending() == before  # the same order never arms twice


async def test_without_email_consent_the_step_is_suppressed_with_the_reason() -> None:
    world = World()
    await world.buy("boots", "o1")
    (care, *_rest) = await world.scheduler.actions("c1")
    assert care.status == "suppressed" and "no consent for email" in " ".join(care.reasons)


async def test_a_sensitive_purchase_schedules_nothing_without_explicit_consent() -> None:
    world = World()
    await consented(world)
    await world.buy("pregnancy", "o9")
    assert await world.pending() == []


async def test_calendar_runs_reach_the_segment_at_the_next_occurrence_within_the_cap() -> None:
    world = World(weekly_cap=1)
    await world.segments.put("regulars", SegmentFields(condition="profile.orders >= 1"))
    await consented(world)
    assert await world.pending() == []  # not in the segment yet
    await world.buy("socks", "o1")
    first_monday = datetime(2026, 4, 6, 10, 0, tzinfo=BERLIN)
    assert ("monthly_tips", "tips", first_monday, "pending") in await world.pending()
    await world.send("page_view")  # another event the same month: nothing new
    assert len([p for p in await world.pending() if p[0] == "monthly_tips"]) == 1
    world.clock.set(datetime(2026, 4, 6, 9, 0, tzinfo=UTC))  # the occurrence has passed
    await world.buy("boots", "o2")
    tips = [p for p in await world.pending() if p[0] == "monthly_tips"]
    assert tips[-1][2] == datetime(2026, 5, 4, 10, 0, tzinfo=BERLIN)
    # The boot reminder (Wed 6 May, planned first) and the May tips (Mon 4 May) fall in one ISO
    # week; with a cap of one message per week the tips wait for the next month.
    records = {(r.programme, r.send_at.date()): r for r in await world.scheduler.actions("c1")}
    assert records[("service_reminder", date(2026, 5, 6))].status == "pending"
    may_tips = records[("monthly_tips", date(2026, 5, 4))]
    assert may_tips.status == "suppressed"
    assert "contact-pressure cap" in " ".join(may_tips.reasons)
