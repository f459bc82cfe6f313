"""Schedules for programmes: calendar dates and time since a purchase in a category.

Two kinds, each starting a run of a programme of the automation's
:class:`~personalization.automation.programmes.ProgrammeSet`::

    schedules:
      - id: monthly_tips
        programme: monthly_tips            # its steps, channels, cancel_on, conditions
        calendar: every first monday of the month at 10:00
      - id: boot_care
        programme: service_reminder
        after_purchase: {category: boots, after: 30d}
        segment: outdoor_regulars          # optional: only people in this segment

A programme started by a schedule should have the trigger ``{event: scheduled}``: no event has
that type, so the automation never starts it by itself, and everything else about it (steps,
follow-ups, ``cancel_on``, conditions, ``enabled``) works as for every other programme.

**Calendar rules** (:mod:`personalization.automation.calendar_rule`; times are the person's local
time: their time zone, else the default)::

    every day at 08:00
    every monday at 09:30            every monday and thursday at 18:00
    every first monday of the month at 10:00      (first, second, third, fourth, fifth, last)
    every 15th of the month at 10:00              (1st .. 31st; months without it are skipped)
    FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=8      (an iCalendar RRULE, read by python-dateutil)

**After a purchase**: ``N`` after each purchase with an item in ``category`` (or a sub-category:
``boots.winter`` counts for ``boots``), one run per order. A purchase in a sensitive category
starts nothing without the person's explicit consent (:mod:`personalization.profiles.sensitivity`).

Same rules as every programme: :class:`~personalization.automation.next_action.NextActionPlanner`
picks the channel by consent and preference, moves messages out of quiet hours and enforces the
weekly contact-pressure cap across programmes; the automation's suppression cancels a pending step
on the programme's ``cancel_on`` events or when the person no longer qualifies.

:class:`Schedules` is an event listener of the profile service (add it after the automation, so
a purchase first cancels what it suppresses and then arms the next reminder). Calendar runs are
armed for the next occurrence whenever a profile changes; a periodic sweep can call
:meth:`Schedules.arm` for people without recent events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personalization.automation.action_record import ActionRecord, plan_record
from personalization.automation.calendar_rule import CalendarRule
from personalization.automation.next_action import NextActionPlanner
from personalization.automation.person import Person, check_conditions, person_of
from personalization.automation.programmes import Duration, Programme, Step
from personalization.automation.scheduler import Scheduler
from personalization.clock import Clock, system_clock
from personalization.errors import InvalidSchedule
from personalization.profiles.events import Event, Purchase
from personalization.profiles.profile import Profile, Transition
from personalization.profiles.sensitivity import SensitivityPolicy, consents_of

if TYPE_CHECKING:
    from personalization.experiments.segments import Segments

log = logging.getLogger("kairos.schedules")

_SEPARATORS = (".", "/", ":", ">")


# -- definitions ----------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class AfterPurchase(_Model):
    category: str = Field(min_length=1, max_length=64)
    after: Duration

    @field_validator("category")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class Schedule(_Model):
    """A programme started by a calendar rule or by time since a purchase in a category."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")
    programme: str = Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")
    calendar: str | None = None
    after_purchase: AfterPurchase | None = None
    segment: str | None = Field(default=None, description="Only people in this segment.")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.calendar is None) == (self.after_purchase is None):
            raise ValueError("a schedule has either calendar or after_purchase")
        if self.calendar is not None:
            CalendarRule.parse(self.calendar)  # InvalidSchedule is a ValueError
        return self

    @property
    def rule(self) -> CalendarRule | None:
        return CalendarRule.parse(self.calendar) if self.calendar is not None else None


def parse_schedules(data: Any) -> list[Schedule]:
    """``{"schedules": [...]}`` or a bare list; raises pydantic's ``ValidationError``."""
    items = data.get("schedules", []) if isinstance(data, dict) else data
    schedules = [Schedule.model_validate(item) for item in items or []]
    ids = [s.id for s in schedules]
    if len(set(ids)) != len(ids):
        raise InvalidSchedule("schedule ids must be unique")
    return schedules


def _in_category(label: str, category: str) -> bool:
    label = label.lower()
    return label == category or any(label.startswith(category + s) for s in _SEPARATORS)


# -- the listener ---------------------------------------------------------------------------------
class Schedules:
    """Starts programme runs from schedules; see the module docstring.

    >>> schedules = Schedules(parse_schedules(yaml_data), planner, scheduler, clock=clock)
    >>> profiles.add_listener(automation); profiles.add_listener(schedules)
    """

    def __init__(
        self,
        schedules: Sequence[Schedule],
        planner: NextActionPlanner,
        scheduler: Scheduler,
        *,
        sensitivity: SensitivityPolicy | None = None,
        segments: Segments | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.schedules = list(schedules)
        self.planner = planner
        self.scheduler = scheduler
        self.sensitivity = sensitivity or SensitivityPolicy()
        self.segments = segments
        self.clock = clock

    async def on_events(
        self, profile: Profile, events: Sequence[Event], transitions: Sequence[Transition]
    ) -> None:
        await self.arm(profile, events)

    async def arm(
        self, profile: Profile, events: Sequence[Event] = (), now: datetime | None = None
    ) -> list[ActionRecord]:
        """Plan what the schedules owe this person now: the next calendar occurrence of each
        calendar schedule, and a reminder for each purchase among ``events`` that matches.
        Runs already planned (same schedule and occurrence or order) are not planned again.
        Returns the records planned (pending or suppressed)."""
        if profile.anonymous:
            return []
        now = now or self.clock()
        person = person_of(profile)
        records = await self.scheduler.actions(profile.profile_id)
        runs = {r.run_id for r in records}
        planned: list[ActionRecord] = []
        for schedule in self.schedules:
            programme = self.planner.programmes.get(schedule.programme)
            if programme is None or not programme.enabled:
                continue
            for due, run_id, why in self._occasions(schedule, profile, person, events, now):
                if run_id in runs or not await self._qualifies(schedule, programme, profile,
                                                                 person, now):  # fmt: skip
                    continue
                runs.add(run_id)
                planned += await self._run(person, programme, due, run_id, why, now)
        return planned

    def _occasions(
        self, schedule: Schedule, profile: Profile, person: Person, events: Sequence[Event],
        now: datetime,
    ) -> list[tuple[datetime, str, str]]:  # fmt: skip
        rule = schedule.rule
        if rule is not None:
            at = rule.next_after(now, self.planner.local_zone(person))
            if at is None:
                return []  # the rule's UNTIL has passed
            return [(at, f"{schedule.id}:{at.date().isoformat()}",
                     f"schedule {schedule.id}: {rule.text} (next: {at:%Y-%m-%d %H:%M %Z})")]
        trigger = schedule.after_purchase
        assert trigger is not None
        found = []
        unlocked = consents_of(profile)
        for event in events:
            if not isinstance(event, Purchase):
                continue
            matching = [i.category for i in event.properties.items
                        if _in_category(i.category, trigger.category)]  # fmt: skip
            if not matching:
                continue
            if not self.sensitivity.usable_categories(matching, unlocked):
                log.info("purchase in a sensitive category: no reminder without consent",
                         extra={"schedule": schedule.id})  # fmt: skip
                continue
            bought = event.at(now)
            due = bought + trigger.after
            if due < now:
                continue  # a reminder for a purchase long past is not sent late
            found.append((due, f"{schedule.id}:{event.properties.order_id}",
                          f"schedule {schedule.id}: {trigger.category} bought "
                          f"{bought:%Y-%m-%d}, reminder after {trigger.after.days} days"))
        return found

    async def _qualifies(
        self, schedule: Schedule, programme: Programme, profile: Profile, person: Person,
        now: datetime,
    ) -> bool:  # fmt: skip
        ok, _ = check_conditions(programme.conditions, person)
        if not ok:
            return False
        if schedule.segment is None:
            return True
        if self.segments is None:
            log.warning("schedule names a segment but no segments are configured",
                        extra={"schedule": schedule.id})  # fmt: skip
            return False
        matches = await self.segments.profile_matches([schedule.segment], profile, now)
        return matches[schedule.segment]

    async def _run(
        self, person: Person, programme: Programme, due: datetime, run_id: str, why: str,
        now: datetime,
    ) -> list[ActionRecord]:  # fmt: skip
        """Plan the programme's action and the follow-ups that do not wait for an outcome."""
        planned: list[ActionRecord] = []
        queue: list[tuple[Step, datetime, ActionRecord | None, list[str]]] = [
            (programme.action, due + programme.action.delay, None, [why])
        ]
        while queue:
            step, at, parent, reasons = queue.pop(0)
            record = await self._plan(person, programme, step, at, run_id, parent, reasons, now)
            planned.append(record)
            if record.status != "pending":
                continue
            for child in programme.children_of(step):
                if child.when in ("sent", "ignored"):
                    queue.append((child, record.send_at + child.delay, record,
                                  [f"{child.when} chain after {step.id}"]))
        return planned

    async def _plan(
        self, person: Person, programme: Programme, step: Step, due: datetime, run_id: str,
        parent: ActionRecord | None, why: list[str], now: datetime,
    ) -> ActionRecord:  # fmt: skip
        record = await plan_record(self.planner, person, programme, step, due, run_id, parent,
                                   why, now)  # fmt: skip
        await self.scheduler.schedule([record])
        return record
