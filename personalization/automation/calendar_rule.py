"""Calendar rules of schedules: recurring local times, read from English phrases or an RRULE.

Phrases (times are the person's local time; without ``at`` the time is 09:00)::

    every day at 08:00
    every monday at 09:30            every monday and thursday at 18:00
    every first monday of the month at 10:00      (first, second, third, fourth, fifth, last)
    every 15th of the month at 10:00              (1st .. 31st; months without it are skipped)

or an iCalendar RRULE (RFC 5545, ``RRULE:`` prefix optional), evaluated by python-dateutil's
:mod:`~dateutil.rrule`: ``FREQ=DAILY|WEEKLY|MONTHLY|YEARLY`` with ``INTERVAL``, ``UNTIL``,
``WKST``, ``BYMONTH``, ``BYMONTHDAY``, ``BYYEARDAY``, ``BYWEEKNO``, ``BYDAY`` (``MO,TH`` or, monthly
and yearly, ``1MO``/``-1FR``), ``BYSETPOS`` (monthly and yearly), ``BYHOUR``, ``BYMINUTE``,
``BYSECOND``. ``BYHOUR`` defaults to 9 and ``BYMINUTE`` to 0. Weekly rules name their days and
monthly and yearly rules their day, since a schedule has no start date to take them from.
``COUNT`` and ``DTSTART`` are refused for the same reason; an ``INTERVAL`` counts from Monday
3 January 2000 (daily and weekly) or from January 2000 (monthly and yearly), so every 2 weeks is
the same weeks for everyone. ``FREQ=HOURLY`` and finer are refused: schedules message people.

Occurrences are wall-clock times in the person's zone: 10:00 stays 10:00 across a change to and
from summer time; a time that does not exist on the day clocks go forward (02:30 in Berlin) is
read with the offset before the change, as :mod:`zoneinfo` does (03:30 summer time). ``UNTIL``
is a local time too (a trailing ``Z`` is ignored).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as rr

from personalization.errors import InvalidSchedule

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_PHRASE = re.compile(
    r"^every\s+(?:(?P<day>day)|(?P<nth>first|second|third|fourth|fifth|last)\s+(?P<nthday>\w+)"
    r"\s+of\s+(?:the|every)\s+month|(?P<monthday>\d{1,2})(?:st|nd|rd|th)\s+of\s+(?:the|every)"
    r"\s+month|(?P<days>\w+(?:\s*(?:,|and)\s*\w+)*))(?:\s+at\s+(?P<hh>\d{1,2}):(?P<mm>\d{2}))?$"
)
_FREQS = {"DAILY": rr.DAILY, "WEEKLY": rr.WEEKLY, "MONTHLY": rr.MONTHLY, "YEARLY": rr.YEARLY}
_PARTS = frozenset({"FREQ", "INTERVAL", "UNTIL", "WKST", "BYMONTH", "BYMONTHDAY", "BYYEARDAY",
                    "BYWEEKNO", "BYDAY", "BYSETPOS", "BYHOUR", "BYMINUTE", "BYSECOND"})
_DAY_PARTS = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO")
_WEEK_ANCHOR = datetime(2000, 1, 3)  # a Monday: intervals of days and weeks count from here
_MONTH_ANCHOR = datetime(2000, 1, 1)
_HORIZON = timedelta(days=366 * 9)  # a leap day can be eight years away (2096 -> 2104)


@dataclass(frozen=True, slots=True)
class CalendarRule:
    """A recurring local time; ``rule`` is the dateutil rule, anchored at 2000 (see above)."""

    text: str
    rule: Any  # dateutil.rrule.rrule (untyped)

    @classmethod
    def parse(cls, text: str) -> CalendarRule:
        """Read the phrase or RRULE syntax of the module docstring; raises
        :class:`InvalidSchedule`.

        >>> rule = CalendarRule.parse("every first monday of the month at 10:00")
        >>> rule.next_after(datetime(2026, 3, 3, tzinfo=UTC), ZoneInfo("Europe/Berlin"))
        datetime.datetime(2026, 4, 6, 10, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Berlin'))

        A rule that can never occur (``FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30``) is refused.
        """
        return _parse(text)


    def next_after(self, after: datetime, zone: ZoneInfo) -> datetime | None:
        """The first occurrence strictly after ``after``, in ``zone`` (aware); ``None`` once
        the rule's ``UNTIL`` has passed."""
        local = after.astimezone(zone).replace(tzinfo=None)
        return self._first(self.rule.replace(dtstart=self._start(local)), local, after, zone)

    def _start(self, local: datetime) -> datetime:
        """The latest start at or before the day of ``local`` that keeps the rule's
        ``INTERVAL`` counted from the anchor (iterating from 2000 on would be slow)."""
        day = datetime.combine(local.date() - timedelta(days=1), datetime.min.time())
        interval = int(self.rule._interval)
        if self.rule._freq in (rr.DAILY, rr.WEEKLY):
            unit = interval * (7 if self.rule._freq == rr.WEEKLY else 1)
            return _WEEK_ANCHOR + timedelta(days=(day - _WEEK_ANCHOR).days // unit * unit)
        months = (day.year - 2000) * 12 + day.month - 1
        unit = interval * (12 if self.rule._freq == rr.YEARLY else 1)
        months = months // unit * unit
        return _MONTH_ANCHOR.replace(year=2000 + months // 12, month=months % 12 + 1)

    @staticmethod
    def _first(
        rule: Any, local: datetime, after: datetime | None, zone: ZoneInfo | None = None
    ) -> datetime | None:
        """The first occurrence of ``rule`` later than ``after`` (any one when ``None``),
        looked for up to :data:`_HORIZON` past ``local``."""
        for occurrence in rule:
            if occurrence > local + _HORIZON:
                return None
            if after is None:
                return datetime.combine(occurrence.date(), occurrence.time())
            at: datetime = occurrence.replace(tzinfo=zone)
            if at > after:
                return at
        return None


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> CalendarRule:
    """:meth:`CalendarRule.parse`, once per text: schedules read their rule on every arm."""
    source = " ".join(text.strip().split())
    if "FREQ=" in source.upper():
        parsed = CalendarRule(source, _from_rrule(source))
    else:
        parsed = CalendarRule(source, _from_phrase(source, text))
    if parsed._first(parsed.rule.replace(until=None), _MONTH_ANCHOR, None) is None:
        raise InvalidSchedule(f"{text!r} never occurs")
    return parsed


def _from_phrase(source: str, text: str) -> Any:
    match = _PHRASE.match(source.lower())
    if match is None:
        raise InvalidSchedule(
            f"cannot read {text!r}: write e.g. 'every first monday of the month at 10:00', "
            "'every monday at 09:30', 'every 15th of the month at 10:00' or an RRULE"
        )
    hour, minute = _time(match.group("hh") or "9", match.group("mm") or "00", text)
    at: dict[str, Any] = {"byhour": hour, "byminute": minute, "bysecond": 0,
                          "dtstart": _WEEK_ANCHOR}
    if match.group("day"):
        return rr.rrule(rr.DAILY, **at)
    if match.group("nth"):
        weekday = rr.weekdays[_weekday(match.group("nthday"), text)]
        return rr.rrule(rr.MONTHLY, byweekday=weekday(_ORDINALS[match.group("nth")]), **at)
    if match.group("monthday"):
        day = int(match.group("monthday"))
        if not 1 <= day <= 31:
            raise InvalidSchedule(f"{text!r}: a month has days 1 to 31")
        return rr.rrule(rr.MONTHLY, bymonthday=day, **at)
    names = re.split(r"\s*(?:,|and)\s*", match.group("days"))
    days = sorted({_weekday(n, text) for n in names})
    return rr.rrule(rr.WEEKLY, byweekday=[rr.weekdays[d] for d in days], **at)


def _from_rrule(source: str) -> Any:
    parts = _rrule_parts(source)
    freq = parts.get("FREQ", "")
    if freq not in _FREQS:
        raise InvalidSchedule("RRULE FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    _time(parts.setdefault("BYHOUR", "9"), parts.setdefault("BYMINUTE", "0"), source)
    parts.setdefault("BYSECOND", "0")
    for token in filter(None, parts.get("BYDAY", "").split(",")):
        found = re.fullmatch(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)", token)
        if found is None:
            raise InvalidSchedule(f"RRULE BYDAY value {token!r} is not understood")
        if found.group(1) and freq not in ("MONTHLY", "YEARLY"):
            raise InvalidSchedule("an ordinal BYDAY (1MO, -1FR) needs FREQ=MONTHLY or YEARLY")
    for day in filter(None, parts.get("BYMONTHDAY", "").split(",")):
        if not day.lstrip("+-").isdigit() or not 1 <= abs(int(day)) <= 31:
            raise InvalidSchedule("RRULE BYMONTHDAY must lie in 1..31 (or -31..-1)")
    if "BYSETPOS" in parts and freq not in ("MONTHLY", "YEARLY"):
        raise InvalidSchedule("BYSETPOS (the n-th of a month's or a year's days) needs "
                              "FREQ=MONTHLY or YEARLY")
    if freq == "WEEKLY" and "BYDAY" not in parts:
        raise InvalidSchedule("FREQ=WEEKLY needs BYDAY")
    if freq in ("MONTHLY", "YEARLY") and not any(p in parts for p in _DAY_PARTS):
        raise InvalidSchedule(f"FREQ={freq} needs BYMONTHDAY or BYDAY (like 1MO)")
    text = ";".join(f"{name}={value}" for name, value in parts.items())
    try:
        return rr.rrulestr(text, dtstart=_WEEK_ANCHOR)
    except (ValueError, TypeError) as exc:
        raise InvalidSchedule(f"RRULE {source!r} is not valid: {exc}") from None


def _rrule_parts(source: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in source.upper().removeprefix("RRULE:").split(";"):
        name, _, value = piece.partition("=")
        if not value:
            raise InvalidSchedule(f"RRULE part {piece!r} has no value")
        parts[name.strip()] = value.strip()
    unknown = set(parts) - _PARTS
    if unknown:
        raise InvalidSchedule(f"RRULE parts not supported: {', '.join(sorted(unknown))}")
    if parts.get("UNTIL", "").endswith("Z"):  # local rules end at a local time
        parts["UNTIL"] = parts["UNTIL"][:-1]
    return parts


def _time(hours: str, minutes: str, text: str) -> tuple[int, int]:
    try:
        hour = [int(h) for h in hours.split(",")]
        minute = [int(m) for m in minutes.split(",")]
    except ValueError:
        raise InvalidSchedule(f"{text!r}: the time of day is not valid") from None
    if not all(0 <= h <= 23 for h in hour) or not all(0 <= m <= 59 for m in minute):
        raise InvalidSchedule(f"{text!r}: the time of day is not valid")
    return hour[0], minute[0]


def _weekday(name: str, text: str) -> int:
    name = name.strip().lower().removesuffix("s")
    for index, day in enumerate(_WEEKDAYS):
        if name in (day, day[:3]):
            return index
    raise InvalidSchedule(f"{text!r}: {name!r} is not a weekday")
