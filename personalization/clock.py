"""Time as a dependency: domain code asks a clock, tests pass one they can move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until moved; for tests and simulations.

    >>> clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    >>> clock.advance(hours=2)
    >>> clock().hour
    2
    """

    def __init__(self, now: datetime) -> None:
        assert now.tzinfo is not None, "FrozenClock needs an aware datetime"
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, now: datetime) -> None:
        assert now.tzinfo is not None, "FrozenClock needs an aware datetime"
        self.now = now
