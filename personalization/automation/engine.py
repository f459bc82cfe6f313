"""Automation: ingested events and lifecycle transitions become scheduled or cancelled steps.

:class:`Automation` is an :class:`~personalization.profiles.service.EventListener`: the profile
service calls :meth:`Automation.on_events` after every stored batch, with the profile as it is now,
the newly applied events and the lifecycle transitions they caused. For each call:

1. **Outcomes**: ``email_open``/``push_open`` (opened), ``email_click``/``sms_click`` (clicked)
   and ``purchase`` (converted) are attributed to the sent step whose ``action_id`` they carry as
   ``campaign_id`` (a purchase without one converts the latest sent step of the attribution
   window). Follow-ups chained on that outcome are scheduled; those chained on ``ignored`` are
   cancelled.
2. **Suppression**: a pending step is cancelled by an event its programme or step lists in
   ``cancel_on`` (a purchase cancels the cart reminder), and when the person no longer qualifies
   (conditions, or consent for its channel withdrawn).
3. **Triggers**: events, lifecycle transitions (``at_risk``, ``lapsed``) and dates (birthday,
   order anniversary: armed for the next occurrence whenever the profile changes) start runs of
   the programmes they trigger, honouring each programme's ``reentry`` rule. A run schedules its
   action and the follow-ups chained on ``sent`` or ``ignored``; each is planned by
   :class:`~personalization.automation.next_action.NextActionPlanner` (channel, quiet hours, cap,
   content). Steps that cannot be sent are kept as ``suppressed`` with the reasons.

Event time: runs are timed from when their trigger happened (the event's ``timestamp``; for
``at_risk``/``lapsed`` the moment the customer crossed the threshold), so an order reported
eight months late starts nothing now: each step past its ``expires_after`` is kept as
``skipped`` ("the moment has passed: purchase was 243 days ago"), and a trigger whose every step
has passed neither restarts nor blocks a run in progress.

A batch of events that can neither start, stop nor re-qualify a step (page views, searches, chat
messages under the default programmes) returns without reading the store, so the listener costs
nothing on the bulk of the traffic; otherwise it reads the person's ``actions`` record once.

Scheduled steps are published by the worker (:mod:`service.worker`) through the
:class:`~personalization.automation.scheduler.Scheduler`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from personalization.automation.action_record import ActionRecord, plan_record, skipped_record
from personalization.automation.next_action import NextActionPlanner
from personalization.automation.person import Person, check_conditions, person_of
from personalization.automation.programmes import (
    OUTBOUND_CHANNELS,
    Outcome,
    Programme,
    ProgrammeSet,
    Step,
    describe_age,
    format_duration,
)
from personalization.automation.scheduler import Scheduler
from personalization.clock import Clock, system_clock
from personalization.profiles.events import Event
from personalization.profiles.profile import Profile, Transition

log = logging.getLogger("kairos.automation")

OUTCOME_OF: dict[str, Outcome] = {
    "email_open": "opened",
    "push_open": "opened",
    "email_click": "clicked",
    "sms_click": "clicked",
    "purchase": "converted",
}
_PROFILE_CHANGES = frozenset({"consent_update", "profile_update", "account_created", "login",
                              "purchase", "add_to_cart", "remove_from_cart"})
"""Events that change consent, attributes, stage or cart: pending steps are re-checked."""
_RANK: dict[str | None, int] = {None: 0, "opened": 1, "clicked": 2, "converted": 3}
_REACHES: dict[Outcome, tuple[str, ...]] = {
    "opened": ("opened",),
    "clicked": ("opened", "clicked"),
    "converted": ("opened", "clicked", "converted"),
    "ignored": (),
}


@dataclass(frozen=True, slots=True)
class _Origin:
    """What started a run and when it happened: the measure of every step's lateness."""

    what: str
    at: datetime


class Automation:
    """Turns events into scheduled and cancelled steps; see the module docstring.

    >>> automation = Automation(planner, scheduler, clock=clock)
    >>> profiles.add_listener(automation)

    ``programmes_source``, when given, is asked for the current programmes at most every
    ``refresh_every`` (``None``: keep the ones in use), so that a replacement made through another
    process reaches this one.
    """

    def __init__(
        self,
        planner: NextActionPlanner,
        scheduler: Scheduler,
        *,
        clock: Clock = system_clock,
        attribution_window: timedelta = timedelta(days=7),
        send_dates_at: time = time(10, 0),
        programmes_source: Callable[[], Awaitable[ProgrammeSet | None]] | None = None,
        refresh_every: timedelta = timedelta(seconds=30),
    ) -> None:
        self.planner = planner
        self.scheduler = scheduler
        self.clock = clock
        self.attribution_window = attribution_window
        self.send_dates_at = send_dates_at
        self.programmes_source = programmes_source
        self.refresh_every = refresh_every
        self._refreshed_at: datetime | None = None
        self._relevant_types: frozenset[str] = frozenset()
        self._relevant_for: ProgrammeSet | None = None

    @property
    def programmes(self) -> ProgrammeSet:
        return self.planner.programmes

    def replace(self, programmes: ProgrammeSet) -> None:
        """Use ``programmes`` from now on (pending steps of removed programmes still go out)."""
        self.planner.programmes = programmes

    # -- the listener --------------------------------------------------------------------------
    async def on_events(
        self, profile: Profile, events: Sequence[Event], transitions: Sequence[Transition]
    ) -> None:
        now = self.clock()
        await self._refresh(now)
        if events and not transitions and not any(e.type in self._relevant() for e in events):
            return  # page views, searches, chat: nothing to start, stop or re-check
        person = person_of(profile, sensitivity=self.planner.sensitivity)
        records = await self.scheduler.actions(profile.profile_id)
        records = await self._outcomes(person, records, events, now)
        records = await self._suppress(person, records, events, now)
        await self._trigger(person, records, events, transitions, now)

    async def _refresh(self, now: datetime) -> None:
        """Pick up programmes another process replaced (at most every ``refresh_every``)."""
        if self.programmes_source is None:
            return
        if self._refreshed_at is not None and now - self._refreshed_at < self.refresh_every:
            return
        self._refreshed_at = now
        fresh = await self.programmes_source()
        if fresh is not None and fresh != self.programmes:
            self.replace(fresh)

    def _relevant(self) -> frozenset[str]:
        """Event types that can start, stop or re-qualify a step under the current programmes."""
        programmes = self.programmes
        if self._relevant_for is not programmes:
            types = set(OUTCOME_OF) | _PROFILE_CHANGES
            for programme in programmes:
                types.update(programme.trigger.event, programme.cancel_on)
                for step in programme.steps:
                    types.update(step.cancel_on)
            self._relevant_types, self._relevant_for = frozenset(types), programmes
        return self._relevant_types

    # -- 1. outcomes and chains ----------------------------------------------------------------
    async def _outcomes(
        self, person: Person, records: list[ActionRecord], events: Sequence[Event], now: datetime
    ) -> list[ActionRecord]:
        for event in events:
            outcome = OUTCOME_OF.get(event.type)
            if outcome is None:
                continue
            at = event.at(now)
            target = self._attributed(records, event, at)
            if target is None or _RANK[outcome] <= _RANK[target.outcome]:
                continue
            updated = target.model_copy(update={"outcome": outcome, "outcome_at": at})
            await self.scheduler.update(updated)
            records = [updated if r.action_id == updated.action_id else r for r in records]
            records += await self._chain(person, records, updated, outcome, at, now)
        return records

    def _attributed(
        self, records: Sequence[ActionRecord], event: Event, at: datetime
    ) -> ActionRecord | None:
        campaign = getattr(event.properties, "campaign_id", None)
        sent = [r for r in records if r.status == "sent"]
        if campaign:
            return next((r for r in sent if r.action_id == campaign), None)
        if event.type != "purchase":
            return None
        recent = [r for r in sent if not r.transactional and r.published_at is not None
                  and at - self.attribution_window <= r.published_at <= at]
        return max(recent, key=lambda r: r.send_at) if recent else None

    async def _chain(
        self, person: Person, records: list[ActionRecord], parent: ActionRecord,
        outcome: Outcome, at: datetime, now: datetime,
    ) -> list[ActionRecord]:
        programme = self.programmes.get(parent.programme)
        step = programme.step(parent.step) if programme else None
        if programme is None or step is None:
            return []
        children = [r for r in records if r.parent_id == parent.action_id]
        ignored = [r.action_id for r in children
                   if r.status == "pending" and r.when == "ignored"]
        await self._cancel(parent.profile_id, ignored, f"{parent.step} was {outcome}", now)
        started: list[ActionRecord] = []
        done = {r.step for r in children}
        for child in programme.children_of(step):
            if child.when in _REACHES[outcome] and child.id not in done:
                started += await self._plan_chain(person, programme, child, parent, at, now)
        return started

    # -- 2. suppression ------------------------------------------------------------------------
    async def _suppress(
        self, person: Person, records: list[ActionRecord], events: Sequence[Event], now: datetime
    ) -> list[ActionRecord]:
        cancel: dict[str, str] = {}
        for record in records:
            if record.status != "pending":
                continue
            programme = self.programmes.get(record.programme)
            step = programme.step(record.step) if programme else None
            if programme is None or step is None:
                continue
            stoppers = {*programme.cancel_on, *step.cancel_on}
            for event in events:
                at = event.at(now)
                if event.type in stoppers and at >= record.created_at:
                    cancel[record.action_id] = f"cancelled by {event.type} at {at:%Y-%m-%d %H:%M}"
                    break
            else:
                why = _no_longer(programme, step, record, person)
                if why:
                    cancel[record.action_id] = why
        if cancel:
            for reason in sorted(set(cancel.values())):
                ids = [i for i, r in cancel.items() if r == reason]
                await self._cancel(person.profile_id, ids, reason, now)
            records = await self.scheduler.actions(str(person.profile_id))
        return records

    async def _cancel(
        self, profile_id: str | None, action_ids: Sequence[str], reason: str, now: datetime
    ) -> None:
        if not action_ids or profile_id is None:
            return
        for record in await self.scheduler.cancel(profile_id, action_ids, reason=reason, now=now):
            await self.planner.release(profile_id, record.cap_field)

    # -- 3. triggers ---------------------------------------------------------------------------
    async def _trigger(
        self, person: Person, records: list[ActionRecord], events: Sequence[Event],
        transitions: Sequence[Transition], now: datetime,
    ) -> None:
        if person.profile_id is None:
            return
        started: set[str] = set()
        for programme in self.programmes.enabled:
            trigger = programme.trigger
            at: datetime | None = None
            why = what = ""
            if trigger.event:
                hits = [e for e in events if e.type in trigger.event]
                if hits:  # the latest of the batch, by when it happened
                    hit = max(hits, key=lambda e: e.at(now))
                    at, what = hit.at(now), hit.type
                    why = f"{hit.type} at {at:%Y-%m-%d %H:%M}"
            elif trigger.lifecycle:
                moved = next((t for t in transitions if t.to_stage in trigger.lifecycle), None)
                if moved is not None:
                    at, what = min(moved.at, now), f"becoming {moved.to_stage}"
                    why = f"became {moved.to_stage} ({moved.reason})" if moved.reason else \
                        f"became {moved.to_stage}"
            elif trigger.date:
                at, why = self._next_date(programme, person, records, now)
                what = why
            if at is None or programme.id in started:
                continue
            ok, _ = check_conditions(programme.conditions, person)
            if not ok:
                continue
            # A run that could not send anything (no consent, cap, its moment had passed) does
            # not count as a run.
            mine = [r for r in records if r.programme == programme.id
                    and r.status not in ("suppressed", "skipped")]
            pending = [r.action_id for r in mine if r.status == "pending"]
            stale = _all_passed(programme, at, now)
            if programme.reentry == "once" and mine and not stale:
                continue
            if programme.reentry == "skip_if_active" and pending and not stale:
                continue
            if programme.reentry == "restart" and not stale:
                await self._cancel(person.profile_id, pending, f"restarted by {why}", now)
            started.add(programme.id)
            await self._start(person, programme, at, why, _Origin(what, at), now)

    def _next_date(
        self, programme: Programme, person: Person, records: Sequence[ActionRecord], now: datetime
    ) -> tuple[datetime | None, str]:
        zone = self.planner.local_zone(person)
        today = now.astimezone(zone).date()
        if programme.trigger.date == "birthday":
            if person.birthday is None:
                return None, ""
            day, what = _next_anniversary(person.birthday, today, strictly_after=None), "birthday"
        else:
            if person.first_order_at is None:
                return None, ""
            first = person.first_order_at.astimezone(zone).date()
            day, what = _next_anniversary(first, today, strictly_after=first), "order anniversary"
        at = datetime.combine(day, self.send_dates_at, tzinfo=zone)
        if at < now:  # today's moment has passed: next year
            day = _next_anniversary(day, day + timedelta(days=1), strictly_after=None)
            at = datetime.combine(day, self.send_dates_at, tzinfo=zone)
        if any(r.programme == programme.id and r.created_at <= now
               and r.send_at.astimezone(zone).date() == day for r in records):
            return None, ""  # this occurrence is planned (or done) already
        return at, f"{what} on {day:%Y-%m-%d}"

    async def _start(
        self, person: Person, programme: Programme, at: datetime, why: str, origin: _Origin,
        now: datetime,
    ) -> None:
        run_id = uuid.uuid4().hex
        first = await self._plan(person, programme, programme.action, at + programme.action.delay,
                                 run_id, None, [f"{programme.id} triggered: {why}"], origin, now)
        await self.scheduler.schedule(
            [first, *await self._follow(person, programme, programme.action, first, origin, now)])

    async def _plan_chain(
        self, person: Person, programme: Programme, step: Step, parent: ActionRecord,
        at: datetime, now: datetime,
    ) -> list[ActionRecord]:
        why = [f"{parent.step} was {step.when} at {at:%Y-%m-%d %H:%M}"]
        origin = _Origin(f"{parent.step} being {step.when}", at)
        record = await self._plan(person, programme, step, at + step.delay, parent.run_id,
                                  parent, why, origin, now)
        planned = [record, *await self._follow(person, programme, step, record, origin, now)]
        await self.scheduler.schedule(planned)
        return planned

    async def _follow(
        self, person: Person, programme: Programme, step: Step, record: ActionRecord,
        origin: _Origin, now: datetime,
    ) -> list[ActionRecord]:
        """Plan the follow-ups of ``step`` that do not wait for an outcome (the caller schedules
        them with ``step``'s record, in one write).

        A step skipped because its moment had passed still times its ``sent`` follow-ups from
        that moment (they may still be due); nothing waits for a reaction to it."""
        if record.status not in ("pending", "skipped"):
            return []
        planned: list[ActionRecord] = []
        for child in programme.children_of(step):
            if child.when not in ("sent", "ignored"):
                continue
            if record.status == "skipped" and child.when != "sent":
                continue
            relation = "without reaction to" if child.when == "ignored" else "after"
            wait = format_duration(child.delay) if child.delay else "right"
            why = [f"{wait} {relation} {step.id}"]
            planned_child = await self._plan(person, programme, child,
                                             record.send_at + child.delay, record.run_id,
                                             record, why, origin, now)
            planned += [planned_child,
                        *await self._follow(person, programme, child, planned_child, origin, now)]
        return planned

    async def _plan(
        self, person: Person, programme: Programme, step: Step, due: datetime, run_id: str,
        parent: ActionRecord | None, why: list[str], origin: _Origin, now: datetime,
    ) -> ActionRecord:
        if now - due > programme.expiry_of(step):
            reason = (f"the moment has passed: {origin.what} was "
                      f"{describe_age(now - origin.at)} ago ({step.id} goes out at most "
                      f"{format_duration(programme.expiry_of(step))} late)")
            record = skipped_record(person, programme, step, due, run_id, parent, why, reason,
                                    now)  # fmt: skip
        else:
            record = await plan_record(self.planner, person, programme, step, due, run_id,
                                       parent, why, now)  # fmt: skip
            if record.status == "pending":  # a worker that gets to it later than this skips it
                record = record.model_copy(
                    update={"expires_at": record.send_at + programme.expiry_of(step)})
        log.info("step planned", extra={"profile_id": person.profile_id, "programme": programme.id,
                                        "step": step.id, "status": record.status})
        return record


def _no_longer(programme: Programme, step: Step, record: ActionRecord, person: Person) -> str:
    """Why a pending step should not go out any more ('' when it still should)."""
    for conditions in (programme.conditions, step.conditions):
        ok, reasons = check_conditions(conditions, person)
        if not ok:
            return "no longer applies: " + "; ".join(reasons)
    if (record.channel in OUTBOUND_CHANNELS and not record.transactional
            and not person.consents.get(record.channel, False)):
        return f"consent for {record.channel} withdrawn"
    return ""


def _all_passed(programme: Programme, at: datetime, now: datetime) -> bool:
    """Whether every step timed from a trigger at ``at`` is past its expiry at ``now`` (steps
    that wait for a reaction are left out: they follow a step that would be sent)."""
    due: dict[str, datetime] = {programme.action.id: at + programme.action.delay}
    for step in programme.follow_ups:
        parent = programme.parent_of(step)
        if step.when == "sent" and parent is not None and parent.id in due:
            due[step.id] = due[parent.id] + step.delay
    return all(now - moment > programme.expiry_of(s)
               for s in programme.steps if (moment := due.get(s.id)) is not None)


def _next_anniversary(origin: date, today: date, *, strictly_after: date | None) -> date:
    """The first date on or after ``today`` with ``origin``'s month and day (29 Feb → 28 Feb)."""
    for year in (today.year, today.year + 1, today.year + 2):
        try:
            day = origin.replace(year=year)
        except ValueError:
            day = date(year, 2, 28)
        if day >= today and (strictly_after is None or day > strictly_after):
            return day
    raise AssertionError("unreachable: a date recurs within two years")
