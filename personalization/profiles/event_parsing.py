"""Reading events from JSON-like data, and the document an event is stored as.

:func:`parse_events` validates a batch and reports each bad event with its index and reason;
the models are in :mod:`personalization.profiles.events`. Given the current time it also refuses
an event dated more than :data:`MAX_CLOCK_SKEW` in the future: a client clock that runs a little
fast is forgiven (the event counts as happening now), one that is hours or years off would
otherwise put the event, and everything timed from it, at a moment that has not come.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from personalization.profiles.events import EVENT_TYPES, Event

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future an event's timestamp may be (a client's clock running fast)."""


@dataclass(frozen=True, slots=True)
class EventProblem:
    """Why the event at ``index`` of a batch was refused."""

    index: int
    event_id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "reason": self.reason}


def _reason(raw: object, exc: ValidationError) -> str:
    if isinstance(raw, dict):
        kind = raw.get("type")
        if isinstance(kind, str) and kind not in EVENT_TYPES:
            return f"unknown type {kind!r}: send it as type 'custom' with a name"
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "event"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def parse_event(raw: object) -> Event:
    """One event from JSON-like data; raises pydantic's ``ValidationError``."""
    return _ADAPTER.validate_python(raw)


def parse_events(
    raw: Sequence[object], *, now: datetime | None = None, max_skew: timedelta = MAX_CLOCK_SKEW
) -> tuple[list[Event], list[EventProblem]]:
    """Validate a batch: the good events in order, and a problem for each bad one.

    With ``now``, an event whose ``timestamp`` is more than ``max_skew`` after it is refused.

    >>> good, bad = parse_events([{"event_id": "e1", "type": "login", "profile_id": "u1"}, {}])
    >>> [e.event_id for e in good], [p.index for p in bad]
    (['e1'], [1])
    """
    good: list[Event] = []
    bad: list[EventProblem] = []
    for index, item in enumerate(raw):
        try:
            event = _ADAPTER.validate_python(item)
        except ValidationError as exc:
            event_id = item.get("event_id") if isinstance(item, dict) else None
            bad.append(EventProblem(index, event_id if isinstance(event_id, str) else None,
                                    _reason(item, exc)))
            continue
        ahead = _ahead(event, now)
        if ahead is not None and ahead > max_skew:
            bad.append(EventProblem(index, event.event_id, (
                f"timestamp: {event.timestamp:%Y-%m-%dT%H:%M:%S%z} is {_span(ahead)} in the "
                f"future (at most {_span(max_skew)} of clock skew is allowed): send the time "
                "the event happened, with its time zone, or leave it out for now")))
            continue
        good.append(event)
    return good, bad


def _ahead(event: Event, now: datetime | None) -> timedelta | None:
    if now is None or event.timestamp is None:
        return None
    return event.timestamp - now


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def event_document(event: Event) -> dict[str, Any]:
    """The JSON document stored in the person's event stream."""
    return event.model_dump(mode="json", exclude_none=True, exclude_defaults=True) | {
        "event_id": event.event_id, "type": event.type
    }
