"""Local time of the visitor: daypart, weekday and weekend in their IANA timezone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from intent.situation.models import Daypart, Weekday

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (injected so tests can move it)."""

WEEKDAYS: Final[tuple[Weekday, ...]] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)
# Hours at which a daypart begins; the last one runs over midnight until the first.
DAYPARTS: Final[tuple[tuple[int, Daypart], ...]] = (
    (5, "morning"), (12, "afternoon"), (18, "evening"), (23, "night"),
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LocalTime:
    """A moment as the visitor lives it."""

    local: datetime
    daypart: Daypart
    weekday: Weekday
    is_weekend: bool


def local_time(moment: datetime, timezone: ZoneInfo) -> LocalTime:
    """Convert ``moment`` (naive means UTC) to ``timezone`` and name its daypart and weekday.

    Dayparts: morning 05-12, afternoon 12-18, evening 18-23, night 23-05 (local hours).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(timezone)
    daypart = DAYPARTS[-1][1]
    for start, name in DAYPARTS:
        if local.hour >= start:
            daypart = name
    weekday = WEEKDAYS[local.weekday()]
    return LocalTime(local=local, daypart=daypart, weekday=weekday, is_weekend=local.weekday() >= 5)
