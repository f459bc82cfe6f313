"""Errors raised by the personalization package.

PersonalizationError
├── ProfileNotFound (LookupError)         no profile with that id
├── DecisionNotFound (LookupError)        feedback names a decision that is unknown or expired
├── InvalidEvent (ValueError)             an event that cannot be applied (index and reason)
├── ConflictError (RuntimeError)          an atomic update kept losing to concurrent writers
├── StoreUnavailable (ConnectionError)    the store cannot be reached right now
├── InvalidProgramme (ValueError)         automation programmes that cannot be accepted
├── InvalidSchedule (ValueError)          a schedule or calendar rule that cannot be understood
├── InvalidLinkRequest (ValueError)       a newsletter link token cannot be issued as asked
├── ABTestNotFound (LookupError)          no A/B test with that id
├── ABTestConflict                        the change is not possible in the test's state
├── InvalidABTest (ValueError)            a test definition that cannot be accepted
├── SegmentNotFound (LookupError)         no segment of that name
├── InvalidSegment (ValueError)           a segment definition that cannot be accepted
└── UnknownSlot (ValueError)              a decision asks for a slot no live content has
"""

from __future__ import annotations

from redis.exceptions import RedisError


class PersonalizationError(Exception):
    """Root of every error raised by :mod:`personalization`."""


class ProfileNotFound(PersonalizationError, LookupError):
    """No profile with the given id."""


class DecisionNotFound(PersonalizationError, LookupError):
    """No decision with the given id (unknown, or older than the decision log keeps)."""


class InvalidEvent(PersonalizationError, ValueError):
    """An event that cannot be applied; the message names which one and why."""


class ConflictError(PersonalizationError, RuntimeError):
    """An atomic update did not succeed within its retries because of concurrent writers."""


class StoreUnavailable(PersonalizationError, ConnectionError):
    """The store cannot be reached; callers may degrade or ask the client to retry."""


class InvalidProgramme(PersonalizationError, ValueError):
    """Programmes that cannot be accepted; ``errors`` lists each problem as ``{field, message}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        where = f"{first['field']}: " if first["field"] else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"invalid programmes: {where}{first['message']}{more}")


class InvalidSchedule(PersonalizationError, ValueError):
    """A schedule or calendar rule that cannot be understood."""


class ABTestNotFound(PersonalizationError, LookupError):
    """No A/B test with that id."""

    def __init__(self, test_id: str) -> None:
        self.test_id = test_id
        super().__init__(f"A/B test {test_id!r} does not exist")


class ABTestConflict(PersonalizationError):
    """The change is not possible in the test's state (or another test runs on the slot)."""


class InvalidABTest(PersonalizationError, ValueError):
    """A test definition that cannot be accepted."""


class SegmentNotFound(PersonalizationError, LookupError):
    """No segment of that name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"segment {name!r} does not exist")


class InvalidSegment(PersonalizationError, ValueError):
    """A segment definition that cannot be accepted (bad name or condition)."""


class InvalidLinkRequest(PersonalizationError, ValueError):
    """A token cannot be issued as asked (bad profile id, ttl out of range)."""


class UnknownSlot(PersonalizationError, ValueError):
    """A decision names a slot that no live content item has (a typo, or content not yet live)."""


STORE_ERRORS: tuple[type[Exception], ...] = (StoreUnavailable, RedisError, OSError)
"""What a lost store raises: our own error, redis-py's (code that talks to Redis directly, such
as the scheduler, sees these unwrapped), and the socket's. Retry later; do not drop the work."""
