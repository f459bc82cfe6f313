"""Errors raised by the personalization package.

PersonalizationError
├── ProfileNotFound (LookupError)         no profile with that id
├── DecisionNotFound (LookupError)        feedback names a decision that is unknown or expired
├── InvalidEvent (ValueError)             an event that cannot be applied (index and reason)
├── ConflictError (RuntimeError)          an atomic update kept losing to concurrent writers
└── StoreUnavailable (ConnectionError)    the store cannot be reached right now
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


STORE_ERRORS: tuple[type[Exception], ...] = (StoreUnavailable, RedisError, OSError)
"""What a lost store raises: our own error, redis-py's (code that talks to Redis directly, such
as the scheduler, sees these unwrapped), and the socket's. Retry later; do not drop the work."""
