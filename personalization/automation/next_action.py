"""The next action: which step, on which channel, when, with which content, and why.

:class:`NextActionPlanner` turns a programme step into a :class:`NextAction` for one person:

- **channel**: the step's channels, the person's preferred ones first; an outbound channel
  (email, SMS, push) needs the person's consent for it (:mod:`personalization.profiles.consent`);
- **quiet hours** in the person's time zone: a message due at 22:30 with quiet hours 21:00–08:00
  is moved to 08:00 the next morning;
- **contact pressure**: at most ``weekly_cap`` messages per person per channel per ISO week, and
  at most ``weekly_cap_total`` across all channels, over all programmes (counted in the person's
  ``caps`` record when a step is planned, released when it is cancelled); a full channel falls
  through to the next allowed one, a full week holds the message back ("held back: 4 messages
  this week across channels (cap 4)"). Both counters of a person are one hash, moved by one
  atomic increment (one Redis key, so one slot in a cluster): two steps planned at once can
  never both pass a full cap;
- **content**: the best live item of the pool for the channel's slot and the person's language
  that carries the step's tags (and, when the person bought something, fits those categories).

Transactional steps (an order confirmation) are owed to the customer: no marketing consent,
cap or quiet hours. Every decision is written into ``reasons``.

:meth:`NextActionPlanner.immediate` answers in the request (``/v1/decide``, ``/v1/chat``) with the
real-time programmes (phase or moment triggers): human handover, retention offer, on-site cart
reminder.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from content_pool.pool import ContentPool
from personalization.automation.person import (
    DEFAULT_SENSITIVITY,
    Person,
    check_conditions,
    person_of,
)
from personalization.automation.programmes import (
    OUTBOUND_CHANNELS,
    Channel,
    Programme,
    ProgrammeSet,
    Step,
)
from personalization.profiles.profile import Profile
from personalization.profiles.sensitivity import SensitivityPolicy
from personalization.store.protocols import PersonalRecords

DEFAULT_SLOTS: dict[str, str] = {
    "email": "email_block",
    "sms": "notification",
    "push": "notification",
    "web": "banner",
    "chat": "chat_reply",
}
"""The content slot used for a channel when a step names none."""


class NextAction(BaseModel):
    """One marketing step for one person, explained."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action_id: str = Field(description="Unique id; downstream systems report it as campaign_id.")
    profile_id: str | None
    type: str
    programme: str
    step: str
    channel: Channel
    send_at: AwareDatetime
    content_id: str | None
    priority: int
    incentive: bool = False
    transactional: bool = False
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Hours in the person's local time when outbound messages wait (``start == end``: none)."""

    start: time = time(21, 0)
    end: time = time(8, 0)
    channels: frozenset[str] = OUTBOUND_CHANNELS

    def is_quiet(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, when: datetime, zone: ZoneInfo) -> datetime:
        """``when`` itself outside quiet hours, else the end of the quiet period (aware, UTC)."""
        local = when.astimezone(zone)
        if not self.is_quiet(local.time().replace(tzinfo=None)):
            return when
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=zone).astimezone(when.tzinfo)


@dataclass(frozen=True, slots=True)
class Plan:
    """The planner's answer for a step: an action, or why there is none."""

    action: NextAction | None
    reasons: list[str]
    cap_field: str | None = None
    """The contact-pressure counter the action counts against (released when cancelled)."""


class NextActionPlanner:
    """Plans programme steps for a person; see the module docstring for the rules.

    ``caps`` is the store's :class:`~personalization.store.protocols.PersonalRecords`
    (contact-pressure counters live in the person's ``caps`` part); without it no cap is enforced.
    """

    def __init__(
        self,
        programmes: ProgrammeSet,
        *,
        pool: ContentPool | None = None,
        caps: PersonalRecords | None = None,
        quiet_hours: QuietHours | None = None,
        weekly_cap: int = 3,
        weekly_cap_total: int | None = 4,
        default_timezone: str = "Europe/Berlin",
        default_language: str = "de",
        cap_ttl: timedelta = timedelta(days=15),
        sensitivity: SensitivityPolicy = DEFAULT_SENSITIVITY,
    ) -> None:
        self.programmes = programmes
        self.sensitivity = sensitivity
        self.pool = pool
        self.caps = caps
        self.quiet_hours = quiet_hours if quiet_hours is not None else QuietHours()
        self.weekly_cap = weekly_cap
        self.weekly_cap_total = weekly_cap_total
        self.default_timezone = default_timezone
        self.default_language = default_language
        self.cap_ttl = cap_ttl

    # -- real time ---------------------------------------------------------------------------
    def immediate(
        self,
        profile: Profile | Person | None,
        situation: SituationLike | None,
        intent_prediction: PredictionLike | None,
        now: datetime,
    ) -> NextAction | None:
        """The real-time action for this interaction, or ``None``.

        Matches the enabled phase and moment programmes against the predicted phase and moment,
        checks their conditions (for ``human_handover``: customer value, how often the problem
        came back, or an explicit request) and picks the one with the highest priority. Only
        on-site and chat channels are used, so no contact consent is needed; an anonymous
        visitor gets an action only from programmes without conditions on the profile.

        Pass the profile as it was before this interaction: the current problem moment is
        counted once, on top of those in ``profile.last_intents``. A :class:`Person` may stand
        in for the profile when only some facts are known (the console's "view as visitor").
        """
        person = (person_of(profile, sensitivity=self.sensitivity)
                  if isinstance(profile, Profile) else profile)
        phase = intent_prediction.phase.name if intent_prediction else None
        moment = intent_prediction.moment.name if intent_prediction else None
        intent = intent_prediction.intent.name if intent_prediction else None
        language = (situation.language.code if situation else None) or (
            person.language if person else None
        )
        best: NextAction | None = None
        for programme in self.programmes.enabled:
            trigger = programme.trigger
            if not trigger.realtime:
                continue
            if not ((phase and phase in trigger.phase) or (moment and moment in trigger.moment)):
                continue
            why = [f"{'phase' if trigger.phase else 'moment'} "
                   f"{phase if trigger.phase else moment} triggers {programme.id}"]
            current = person or Person(profile_id=None)
            ok, reasons = check_conditions(
                programme.conditions, current, intent=intent, moment=moment
            )
            if not ok:
                continue
            step = programme.action
            channels = [c for c in step.channels if c not in OUTBOUND_CHANNELS]
            if not channels:
                continue
            channel = channels[0]
            content_id, content_why = self.content_for(step, channel, language or
                                                       self.default_language, current, now)
            action = _action(
                programme, step, profile_id=current.profile_id, channel=channel, send_at=now,
                content_id=content_id,
                reasons=[*why, *reasons, f"channel {channel}: the person is here now",
                         content_why],
            )  # fmt: skip
            if best is None or action.priority > best.priority:
                best = action
        return best

    # -- scheduled steps ----------------------------------------------------------------------
    async def plan(
        self,
        person: Person,
        programme: Programme,
        step: Step,
        due: datetime,
        now: datetime,
        *,
        action_id: str | None = None,
    ) -> Plan:
        """Plan ``step`` for ``person``, due at ``due``: channel, send time, content, reasons.

        Reserves one unit of the weekly contact caps (the chosen channel's and the total); the
        caller releases it with :meth:`release` when the step is cancelled. Returns a
        :class:`Plan` without an action (and the reasons) when no channel is allowed or the
        week's messages across channels are used up.
        """
        ok, reasons = check_conditions(step.conditions, person)
        if not ok:
            return Plan(None, [f"{programme.id}.{step.id} skipped: conditions not met", *reasons])
        zone = self._zone(person)
        reasons = list(reasons)
        ordered = _prefer(step.channels, person.channel_preferences)
        if list(ordered) != list(step.channels):
            reasons.append(f"channel order follows the person's preferences: {', '.join(ordered)}")
        for channel in ordered:
            if channel not in OUTBOUND_CHANNELS:
                reasons.append(f"{channel} skipped: not a channel to reach someone later")
                continue
            if not step.transactional and not person.consents.get(channel, False):
                reasons.append(f"{channel} skipped: no consent for {channel}")
                continue
            send_at = max(due, now)
            if not step.transactional and channel in self.quiet_hours.channels:
                send_at = self._after_quiet_hours(send_at, zone, reasons)
            cap_field = None
            if not step.transactional and person.profile_id is not None:
                cap_field = _cap_field(channel, send_at.astimezone(zone))
                full = await self._reserve(person.profile_id, cap_field)
                if full == "total":
                    held = (f"held back: {self.weekly_cap_total} messages this week across "
                            f"channels (cap {self.weekly_cap_total})")
                    return Plan(None, [f"{programme.id}.{step.id} {held}", *reasons, held])
                if full == "channel":
                    reasons.append(
                        f"{channel} skipped: {self.weekly_cap} messages this week already "
                        "(contact-pressure cap)"
                    )
                    continue
            language = person.language or self.default_language
            content_id, content_why = self.content_for(step, channel, language, person, send_at)
            action = _action(
                programme, step, profile_id=person.profile_id, channel=channel, send_at=send_at,
                content_id=content_id, action_id=action_id,
                reasons=[*reasons, f"channel {channel}"
                         + (" (transactional)" if step.transactional else ""), content_why],
            )  # fmt: skip
            return Plan(action, action.reasons, cap_field)
        return Plan(None, [f"{programme.id}.{step.id} suppressed: no channel allowed", *reasons])

    def _after_quiet_hours(self, send_at: datetime, zone: ZoneInfo, reasons: list[str]) -> datetime:
        """``send_at``, or the end of the quiet hours it falls into (noted in ``reasons``)."""
        moved = self.quiet_hours.next_allowed(send_at, zone)
        if moved != send_at:
            reasons.append(
                f"moved from {send_at.astimezone(zone):%H:%M} to "
                f"{moved.astimezone(zone):%a %H:%M} ({zone.key}): quiet hours "
                f"{self.quiet_hours.start:%H:%M}–{self.quiet_hours.end:%H:%M}"
            )
        return moved

    async def release(self, profile_id: str, cap_field: str | None) -> None:
        """Give back the contact-pressure units (channel and total) of a cancelled step."""
        if cap_field is not None and self.caps is not None:
            await self.caps.incr_personal(profile_id, "caps", self._units(cap_field, -1),
                                          ttl=self.cap_ttl)  # fmt: skip

    def _units(self, cap_field: str, amount: int) -> dict[str, float]:
        units: dict[str, float] = {cap_field: amount}
        if self.weekly_cap_total is not None:
            units[_total_field(cap_field)] = amount
        return units

    async def _reserve(self, profile_id: str, cap_field: str) -> Literal["channel", "total"] | None:
        """Count one message on the channel's and the total counter of its week, in one atomic
        increment; if either is then over its cap, give both back. Returns which cap is full."""
        if self.caps is None:
            return None
        counts = await self.caps.incr_personal(
            profile_id, "caps", self._units(cap_field, 1), ttl=self.cap_ttl
        )
        total = counts.get(_total_field(cap_field))
        over_total = (total is not None and self.weekly_cap_total is not None
                      and total > self.weekly_cap_total)
        if not over_total and counts[cap_field] <= self.weekly_cap:
            return None
        await self.caps.incr_personal(profile_id, "caps", self._units(cap_field, -1),
                                      ttl=self.cap_ttl)  # fmt: skip
        return "total" if over_total else "channel"

    def content_for(
        self, step: Step, channel: str, language: str, person: Person, now: datetime
    ) -> tuple[str | None, str]:
        """The content item for the step (id, reason): tags first, then categories, then default."""
        if self.pool is None:
            return None, "no content pool"
        slot = step.slot or DEFAULT_SLOTS.get(channel, "banner")
        items = list(self.pool.eligible(slot, channel, language, now))  # type: ignore[arg-type]
        tags = set(step.content_tags)
        tagged = [i for i in items if tags <= set(i.tags)] if tags else []
        if not tagged and tags:
            tagged = [i for i in items if tags & set(i.tags)]
        # Items built on a sensitive category the person has not unlocked are never chosen, not
        # even as a fallback: receiving one would reveal what was inferred.
        tagged = [i for i in tagged if len(self.sensitivity.usable_categories(
            i.targeting.categories, person.consents)) == len(i.targeting.categories)]
        bought = set(person.bought_categories)
        if tagged and bought:
            fitting = [i for i in tagged if bought & set(i.targeting.categories)]
            if fitting:
                return fitting[0].id, (
                    f"content {fitting[0].id}: {slot}/{channel}/{language}, tags "
                    f"{', '.join(sorted(tags))}, bought categories"
                )
        if tagged:
            return tagged[0].id, (
                f"content {tagged[0].id}: {slot}/{channel}/{language}, tags "
                f"{', '.join(sorted(tags & set(tagged[0].tags)))}"
            )
        defaults = [i for i in items if i.is_default]
        if defaults:
            item_id = defaults[0].id
            return item_id, f"content {item_id}: default of {slot}/{channel}/{language}"
        return None, f"no live content for {slot}/{channel}/{language}"

    def _zone(self, person: Person) -> ZoneInfo:
        for name in (person.timezone, self.default_timezone):
            if name:
                try:
                    return ZoneInfo(name)
                except (ZoneInfoNotFoundError, ValueError):
                    continue
        return ZoneInfo("UTC")

    def local_zone(self, person: Person) -> ZoneInfo:
        """The person's time zone (their own, else the default)."""
        return self._zone(person)


# -- shapes of the situation and the prediction (intent.situation / intent.model) ---------------
class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _Language(Protocol):
    @property
    def code(self) -> str | None: ...


class SituationLike(Protocol):
    """What :meth:`NextActionPlanner.immediate` reads of ``intent.situation.models.Situation``."""

    @property
    def language(self) -> _Language: ...


class PredictionLike(Protocol):
    """What it reads of ``intent.model.IntentPrediction``."""

    @property
    def intent(self) -> _Named: ...
    @property
    def phase(self) -> _Named: ...
    @property
    def moment(self) -> _Named: ...


# -- helpers -------------------------------------------------------------------------------------
def _prefer(channels: Sequence[str], preferred: Sequence[str]) -> list[str]:
    first = [c for c in preferred if c in channels]
    return [*dict.fromkeys(first), *[c for c in channels if c not in first]]


def _cap_field(channel: str, local: datetime) -> str:
    year, week, _ = local.isocalendar()
    return f"contact:{channel}:{year}-W{week:02d}"


def _total_field(cap_field: str) -> str:
    """The counter of every channel in the week of a channel's ``cap_field``."""
    _, _, week = cap_field.split(":")
    return f"contact:all:{week}"


def _action(
    programme: Programme, step: Step, *, profile_id: str | None, channel: str,
    send_at: datetime, content_id: str | None, reasons: list[str], action_id: str | None = None,
) -> NextAction:  # fmt: skip
    """The action of ``step`` on ``channel`` at ``send_at`` (a new id unless one is given)."""
    return NextAction(
        action_id=action_id or uuid.uuid4().hex, profile_id=profile_id, type=step.type,
        programme=programme.id, step=step.id, channel=channel, send_at=send_at,
        content_id=content_id, priority=step.priority, incentive=step.incentive,
        transactional=step.transactional, reasons=reasons,
    )  # fmt: skip
