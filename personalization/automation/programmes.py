"""Lifecycle programmes as data: a trigger, conditions, an action and its follow-ups.

A programme is written by marketers in YAML (``personalization/automation/data/programmes.yml`` is
the default set) and replaced through ``PUT /v1/programmes`` or ``kairos automation import``::

    programmes:
      - id: cart_abandonment
        name: Cart abandonment
        trigger: {event: cart_update}        # or lifecycle / phase / moment / date
        conditions: {has_cart: true}
        reentry: restart                    # a new cart change restarts the clock
        cancel_on: [purchase, checkout]     # a later event suppresses every pending step
        action:
          id: reminder
          type: cart_reminder
          delay: 1h                         # after the trigger
          channels: [email, push]           # in order of preference
          content_tags: [cart]
        follow_ups:
          - id: incentive
            type: cart_incentive
            after: reminder                 # default: the step before
            when: sent                      # sent | opened | clicked | converted | ignored
            delay: 1d
            incentive: true

Triggers of kind ``event``, ``lifecycle`` and ``date`` start scheduled runs (see
:mod:`personalization.automation.engine`); ``phase`` and ``moment`` triggers are real-time and
answered by :meth:`personalization.automation.next_action.NextActionPlanner.immediate`.

Event time: a run is timed from when its trigger happened (the event's ``timestamp``, or the
moment a customer really crossed into ``at_risk``/``lapsed``), not from when Kairos heard of it.
A step whose moment is further in the past than its ``expires_after`` (the step's, else the
programme's, else :data:`DEFAULT_EXPIRES_AFTER`) is not sent late: it is recorded as ``skipped``
with the reason ("the moment has passed: purchase was 243 days ago"), whether that shows when it
is planned or when a worker takes it (workers that were down do not send yesterday's steps).
The follow-ups chained on ``sent`` of a skipped step are still planned from its moment (a
purchase two hours old gets no confirmation any more, but its cross-sell three days later).

Chain conditions (``when``) refer to what happened to the step named by ``after``: ``sent``
follow-ups are scheduled with it; ``ignored`` ones too, and are cancelled as soon as that step is
opened, clicked or converted; ``opened``/``clicked``/``converted`` ones are scheduled when that
outcome is reported through the events API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from personalization.errors import InvalidProgramme

DEFAULT_PROGRAMMES = Path(__file__).parent / "data" / "programmes.yml"

Channel = Literal["web", "chat", "email", "sms", "push"]
Stage = Literal["anonymous", "prospect", "new_customer", "active", "loyal", "at_risk", "lapsed"]
Phase = Literal["explore", "consider", "purchase", "use", "churn"]
Moment = Literal["know", "go", "do", "buy", "service", "problem"]
Outcome = Literal["opened", "clicked", "converted", "ignored"]
When = Literal["sent", "opened", "clicked", "converted", "ignored"]
DateTrigger = Literal["birthday", "order_anniversary"]

OUTBOUND_CHANNELS: frozenset[str] = frozenset({"email", "sms", "push"})
"""Channels that reach a person who is not on the site: consent, quiet hours and the cap apply."""

DEFAULT_EXPIRES_AFTER = timedelta(days=1)
"""How late a step may still go out when neither it nor its programme says."""

_ID = r"^[a-z][a-z0-9_]{0,59}$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    """``"30m"``, ``"1h"``, ``"3d"``, ``"2w"``, a number of seconds, or a ``timedelta``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    raise ValueError(f"{value!r} is not a duration; write e.g. 30m, 1h, 3d or 2w")


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe_age(delta: timedelta) -> str:
    """``delta`` in its largest whole unit, for people: ``243 days``, ``2 hours``, ``1 minute``."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Trigger(_Model):
    """What starts a programme: exactly one of the fields is set."""

    event: Annotated[list[str], BeforeValidator(_listify)] = Field(default_factory=list)
    lifecycle: Annotated[list[Stage], BeforeValidator(_listify)] = Field(default_factory=list)
    phase: Annotated[list[Phase], BeforeValidator(_listify)] = Field(default_factory=list)
    moment: Annotated[list[Moment], BeforeValidator(_listify)] = Field(default_factory=list)
    date: DateTrigger | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        kinds = [k for k in ("event", "lifecycle", "phase", "moment", "date") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                "a trigger names exactly one of event, lifecycle, phase, moment or date"
                + (f" (got {', '.join(kinds)})" if kinds else "")
            )
        return self

    @property
    def realtime(self) -> bool:
        """Phase and moment triggers are answered in the request, not scheduled."""
        return bool(self.phase or self.moment)


class Conditions(_Model):
    """Who qualifies. Unset fields do not restrict; ``match`` says whether all or any must hold."""

    match: Literal["all", "any"] = "all"
    stages: list[Stage] = Field(default_factory=list)
    known: bool | None = Field(default=None, description="Only identified (or anonymous) people.")
    profile_incomplete: bool | None = None
    has_cart: bool | None = None
    min_orders: int | None = Field(default=None, ge=0)
    min_monetary: float | None = Field(default=None, ge=0, description="Lifetime value.")
    min_problem_repeats: int | None = Field(
        default=None, ge=1, description="Problem moments including this one."
    )
    intents: list[str] = Field(default_factory=list, description="The current intent is one.")

    @property
    def empty(self) -> bool:
        return not any(
            getattr(self, name) not in (None, [])
            for name in type(self).model_fields
            if name != "match"
        )


class Step(_Model):
    """One action of a programme: the first is the programme's ``action``, then follow-ups."""

    id: str = Field(pattern=_ID)
    type: str = Field(pattern=_ID, description="What the action is, e.g. cart_reminder.")
    channels: list[Channel] = Field(min_length=1, description="Allowed, in order of preference.")
    delay: Duration = Field(default=timedelta(0), description="After the trigger or `after` step.")
    after: str | None = Field(default=None, description="The step this one follows.")
    when: When = "sent"
    conditions: Conditions = Field(default_factory=Conditions)
    cancel_on: list[str] = Field(default_factory=list, description="Events that suppress it.")
    content_tags: list[str] = Field(default_factory=list)
    slot: str | None = Field(default=None, description="Content slot; default by channel.")
    priority: int = Field(default=50, ge=0, le=100)
    incentive: bool = False
    transactional: bool = Field(
        default=False,
        description="Owed to the customer (order confirmation): no marketing consent, cap or "
        "quiet hours.",
    )
    expires_after: Duration | None = Field(
        default=None, description="How late it may still go out after its moment; later it is "
        "skipped. Default: the programme's."
    )

    @field_validator("delay")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("a delay cannot be negative")
        return value

    @field_validator("expires_after")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("expires_after must be positive, e.g. 1h or 2w")
        return value


class Programme(_Model):
    """A lifecycle programme: trigger, conditions, an action and its follow-ups."""

    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    enabled: bool = True
    trigger: Trigger
    conditions: Conditions = Field(default_factory=Conditions)
    reentry: Literal["restart", "skip_if_active", "once"] = Field(
        default="skip_if_active",
        description="On a new trigger while a run exists: restart it, keep it, or never rerun.",
    )
    cancel_on: list[str] = Field(default_factory=list)
    expires_after: Duration = Field(
        default=DEFAULT_EXPIRES_AFTER,
        description="How late its steps may still go out after their moment (a step may say "
        "otherwise); later they are skipped.",
    )
    action: Step
    follow_ups: list[Step] = Field(default_factory=list)

    @field_validator("expires_after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("expires_after must be positive, e.g. 1h or 2w")
        return value

    @model_validator(mode="after")
    def _chain(self) -> Self:
        seen = {self.action.id}
        if self.action.after is not None:
            raise ValueError("the first action follows the trigger; `after` is for follow-ups")
        if self.action.when != "sent":
            raise ValueError("the first action has no step before it to be opened or ignored")
        for step in self.follow_ups:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            if step.after is not None and step.after not in seen:
                raise ValueError(
                    f"follow-up {step.id!r} comes after {step.after!r}, which is not an earlier "
                    "step of this programme"
                )
            seen.add(step.id)
        if self.trigger.realtime and self.follow_ups:
            raise ValueError("real-time (phase or moment) programmes have no follow-ups")
        return self

    @property
    def steps(self) -> tuple[Step, ...]:
        return (self.action, *self.follow_ups)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def expiry_of(self, step: Step) -> timedelta:
        """How late ``step`` may still go out after its moment."""
        return step.expires_after if step.expires_after is not None else self.expires_after

    def parent_of(self, step: Step) -> Step | None:
        """The step ``step`` follows (``None`` for the action)."""
        steps = self.steps
        index = steps.index(step)
        if index == 0:
            return None
        return self.step(step.after) if step.after else steps[index - 1]

    def children_of(self, step: Step) -> list[Step]:
        """The follow-ups whose chain condition refers to ``step``."""
        return [s for s in self.follow_ups if self.parent_of(s) == step]


class ProgrammeSet(_Model):
    """Every programme, ids unique. The document a YAML file or ``PUT /v1/programmes`` holds."""

    programmes: list[Programme] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [p.id for p in self.programmes]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"programme ids must be unique: {', '.join(duplicates)}")
        return self

    def __iter__(self) -> Iterator[Programme]:  # type: ignore[override]
        return iter(self.programmes)

    def get(self, programme_id: str) -> Programme | None:
        return next((p for p in self.programmes if p.id == programme_id), None)

    @property
    def enabled(self) -> list[Programme]:
        return [p for p in self.programmes if p.enabled]


def parse_programmes(data: Any) -> ProgrammeSet:
    """Validate a loaded document (``{"programmes": [...]}`` or a bare list).

    Raises :class:`InvalidProgramme` listing every problem with its location, such as
    ``programmes.2.follow_ups.0.delay: '3 days' is not a duration; write e.g. 30m, 1h, 3d or 2w``.
    """
    if isinstance(data, list):
        data = {"programmes": data}
    if not isinstance(data, Mapping):
        raise InvalidProgramme(
            [{"field": "", "message": "expected a mapping with a `programmes` list"}]
        )
    try:
        return ProgrammeSet.model_validate(data)
    except ValidationError as exc:
        raise InvalidProgramme(_errors(exc, data)) from None


def loads_programmes(text: str | bytes) -> ProgrammeSet:
    """Parse YAML (JSON is YAML too). Raises :class:`InvalidProgramme`, also for bad syntax."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        message = f"not valid YAML: {problem}"
        raise InvalidProgramme([{"field": where, "message": message}]) from None
    return parse_programmes(data)


def load_programmes(path: str | Path = DEFAULT_PROGRAMMES) -> ProgrammeSet:
    """Read a programmes file; errors are prefixed with the file name."""
    path = Path(path)
    try:
        return loads_programmes(path.read_text(encoding="utf-8"))
    except InvalidProgramme as exc:
        raise InvalidProgramme(
            [{"field": f"{path.name}: {e['field']}".rstrip(": "), "message": e["message"]}
             for e in exc.errors]
        ) from None


def dumps_programmes(programmes: ProgrammeSet) -> str:
    """The programmes as YAML, readable by :func:`loads_programmes`."""
    data = programmes.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _errors(exc: ValidationError, data: Any) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        # Name the programme, not only its index, so the marketer finds it in a long file.
        if len(loc) >= 2 and loc[0] == "programmes" and isinstance(loc[1], int):
            try:
                programme_id = data["programmes"][loc[1]].get("id")
            except (KeyError, IndexError, TypeError, AttributeError):
                programme_id = None
            if programme_id:
                loc[1] = f"{loc[1]}({programme_id})"
        field = ".".join(str(part) for part in loc)
        errors.append({"field": field, "message": str(err["msg"]).removeprefix("Value error, ")})
    return errors
