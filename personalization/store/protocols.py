"""What Kairos keeps, as small async interfaces.

Each interface has two real implementations:
:class:`~personalization.store.memory_store.MemoryStore` (in-process, the embedded default) and
:class:`~personalization.store.redis_store.RedisStore` (a single Redis or a Redis Cluster). One
object implements all of them, so the service builds one store and hands it out under each role. The
contract tests in ``tests/personalization/store/test_store_contract.py`` run every implementation
against the same expectations.

Documents are plain JSON-able dicts; typed models live in the modules that own them
(``personalization.profiles.profile``, ``personalization.decisions.models``), so the store never
needs to change when a model grows a field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

Document = dict[str, Any]
Reducer = Callable[[Document | None, Sequence[Document]], Document | None]
"""``reducer(current_profile_or_None, new_events) -> new_profile_or_None``.

Called with the events of the batch that were not applied before (possibly none, for an update
without events). Returning ``None`` writes nothing. It may be called more than once for the same
profile when a concurrent writer won the race, so it must be a pure function of its arguments.
"""


IDENTIFIER_FIELDS = frozenset({"profile_id", "anonymous_id", "session_id", "first_name", "email"})


def strip_identifiers(record: Document) -> Document:
    """A copy of ``record`` without the top-level fields that identify a person."""
    return {k: v for k, v in record.items() if k not in IDENTIFIER_FIELDS}


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The outcome of applying events to one profile."""

    profile_id: str
    profile: Document | None
    applied: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    version: int = 0


class ProfileStore(Protocol):
    """Profiles and their event streams, updated atomically per profile."""

    async def get(self, profile_id: str) -> Document | None:
        """The stored profile document, or ``None``."""
        ...

    async def apply(
        self, batch: Sequence[tuple[str, Sequence[Document]]], reducer: Reducer
    ) -> list[ApplyResult]:
        """Apply each profile's events atomically, once per ``event_id``.

        Every event is a document with at least ``event_id``. Events whose id the profile has seen
        are reported as duplicates and not passed to ``reducer``; the others are appended to the
        person's event stream in the same atomic step that writes the new profile, so an
        acknowledged event is stored. Concurrent writers to one profile never lose an update.
        Raises ``ConflictError`` only after many lost races in a row.
        """
        ...

    async def events(self, profile_id: str, *, limit: int = 1000) -> list[Document]:
        """The person's most recent events, oldest first."""
        ...

    async def erase(self, profile_id: str) -> bool:
        """Delete everything stored about the person; ``True`` if anything existed."""
        ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the store answers."""
        ...


class DecisionLog(Protocol):
    """Decisions with their propensities, kept for feedback and offline evaluation."""

    async def put_decision(
        self, decision_id: str, record: Document, *, profile_id: str | None, ttl: timedelta
    ) -> None: ...

    async def get_decision(self, decision_id: str) -> Document | None: ...

    async def recent_decisions(self, *, limit: int = 1000) -> list[Document]:
        """The latest decision records, oldest first, without personal identifiers.

        The replay log keeps what offline evaluation needs (context, action, propensity) but not
        who it was: :data:`IDENTIFIER_FIELDS` are stripped, so erasure need not rewrite it.
        """
        ...


class DecisionsOfPerson(Protocol):
    """The decisions that name one person, for their data export (apart from
    :class:`DecisionLog`, so that wrappers of the log need not implement it)."""

    async def decisions_of(self, profile_id: str) -> list[Document]:
        """The live decision records put with ``profile_id``."""
        ...


class Counters(Protocol):
    """Shared numeric statistics (bandit arms, impressions, clicks), visible to every worker."""

    async def incr(self, key: str, amounts: Mapping[str, float]) -> None:
        """Atomically add ``amounts`` to the fields of the counter ``key``."""
        ...

    async def incr_many(self, updates: Sequence[tuple[str, Mapping[str, float]]]) -> None:
        """:meth:`incr` for several counters in one round trip (each one atomic)."""
        ...

    async def get_many(self, keys: Sequence[str]) -> list[dict[str, float]]:
        """The counters of ``keys`` in order; an unknown key is ``{}``."""
        ...

    async def scan_counters(self, pattern: str) -> dict[str, dict[str, float]]:
        """All counters whose key matches the glob ``pattern`` (for reports, not hot paths)."""
        ...


class PersonalRecords(Protocol):
    """Small per-person records (frequency caps, pending actions, chat state), erased with them.

    ``part`` is one of :data:`personalization.store.keys.PROFILE_PARTS`.
    """

    async def incr_personal(
        self, profile_id: str, part: str, amounts: Mapping[str, float], *, ttl: timedelta
    ) -> dict[str, float]:
        """Add ``amounts`` to the person's counters in ``part``; returns the new values."""
        ...

    async def put_record(
        self, profile_id: str, part: str, name: str, value: Document, *, ttl: timedelta
    ) -> None: ...

    async def get_records(self, profile_id: str, part: str) -> dict[str, Document]: ...

    async def count_records(self, profile_id: str, part: str) -> int:
        """How many records the person has in ``part`` (cheap: nothing is read)."""
        ...

    async def delete_record(self, profile_id: str, part: str, name: str) -> None: ...

    async def get_personal_counters(self, profile_id: str, part: str) -> dict[str, float]: ...
