"""The in-process store: the embedded default when no Redis is configured.

It keeps the same contract as :class:`~personalization.store.redis_store.RedisStore` (see
:mod:`personalization.store.protocols`) inside one process. Every method runs without yielding to
the event loop between reading and writing, which makes each update atomic for the coroutines of
that process. It is meant for a single worker (``make serve``, tests, notebooks); several workers
need Redis to share what they learn.
"""

from __future__ import annotations

import copy
import fnmatch
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from personalization.clock import Clock, system_clock
from personalization.store.keys import PROFILE_PARTS
from personalization.store.protocols import ApplyResult, Document, Reducer, strip_identifiers


@dataclass
class _Person:
    profile: Document | None = None
    version: int = 0
    events: deque[Document] = field(default_factory=deque)
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    decisions: set[str] = field(default_factory=set)
    counters: dict[str, dict[str, float]] = field(default_factory=dict)
    records: dict[str, dict[str, Document]] = field(default_factory=dict)
    expires_at: datetime | None = None


class MemoryStore:
    """Profiles, events, decisions, counters and personal records in process memory."""

    def __init__(
        self,
        *,
        profile_ttl: timedelta = timedelta(days=395),
        max_events_per_profile: int = 500,
        max_decisions: int = 100_000,
        clock: Clock = system_clock,
    ) -> None:
        self.profile_ttl = profile_ttl
        self.max_events_per_profile = max_events_per_profile
        self.max_decisions = max_decisions
        self.clock = clock
        self._people: dict[str, _Person] = {}
        self._decisions: OrderedDict[str, tuple[Document, datetime]] = OrderedDict()
        self._counters: dict[str, dict[str, float]] = {}

    # -- helpers ---------------------------------------------------------------------------------
    def _person(self, profile_id: str, *, create: bool) -> _Person | None:
        person = self._people.get(profile_id)
        expired = person is not None and person.expires_at is not None and (
            person.expires_at <= self.clock()
        )
        if expired:
            self._drop(profile_id)
            person = None
        if person is None and create:
            person = self._people[profile_id] = _Person()
        return person

    def _drop(self, profile_id: str) -> bool:
        person = self._people.pop(profile_id, None)
        if person is None:
            return False
        for decision_id in person.decisions:
            self._decisions.pop(decision_id, None)
        return True

    # -- ProfileStore ----------------------------------------------------------------------------
    async def get(self, profile_id: str) -> Document | None:
        person = self._person(profile_id, create=False)
        return copy.deepcopy(person.profile) if person and person.profile is not None else None

    async def apply(
        self, batch: Sequence[tuple[str, Sequence[Document]]], reducer: Reducer
    ) -> list[ApplyResult]:
        results = []
        for profile_id, events in batch:
            person = self._person(profile_id, create=True)
            assert person is not None
            fresh: list[Document] = []
            duplicates: list[str] = []
            batch_ids: set[str] = set()
            for event in events:
                event_id = str(event["event_id"])
                if event_id in person.seen or event_id in batch_ids:
                    duplicates.append(event_id)
                else:
                    batch_ids.add(event_id)
                    fresh.append(event)
            new = reducer(copy.deepcopy(person.profile), copy.deepcopy(fresh))
            if new is not None:
                person.profile = copy.deepcopy(new)
                person.version += 1
                for event in fresh:
                    person.events.append(copy.deepcopy(event))
                    person.seen[str(event["event_id"])] = None
                while len(person.events) > self.max_events_per_profile:
                    person.events.popleft()
                while len(person.seen) > self.max_events_per_profile:
                    person.seen.popitem(last=False)
                self._extend(person, self.profile_ttl)
            elif person.profile is None and not person.records and not person.counters:
                self._people.pop(profile_id, None)
            results.append(
                ApplyResult(
                    profile_id,
                    copy.deepcopy(person.profile),
                    [str(e["event_id"]) for e in fresh] if new is not None else [],
                    duplicates,
                    person.version,
                )
            )
        return results

    async def events(self, profile_id: str, *, limit: int = 1000) -> list[Document]:
        person = self._person(profile_id, create=False)
        if person is None:
            return []
        return copy.deepcopy(list(person.events)[-limit:])

    async def erase(self, profile_id: str) -> bool:
        return self._drop(profile_id)

    async def ping(self) -> None:
        return None

    async def scan_profile_ids(self) -> AsyncIterator[str]:
        """Every stored profile id (for sweeps), without holding them all at once."""
        for profile_id in self.profile_ids():
            yield profile_id

    def profile_ids(self) -> list[str]:
        """Ids of the stored, unexpired profiles (for sampling and sweeps; O(profiles))."""
        return [pid for pid in list(self._people)
                if (person := self._person(pid, create=False)) is not None
                and person.profile is not None]

    # -- DecisionLog -----------------------------------------------------------------------------
    async def put_decision(
        self, decision_id: str, record: Document, *, profile_id: str | None, ttl: timedelta
    ) -> None:
        self._decisions[decision_id] = (copy.deepcopy(record), self.clock() + ttl)
        while len(self._decisions) > self.max_decisions:
            self._decisions.popitem(last=False)
        if profile_id is not None:
            person = self._person(profile_id, create=True)
            assert person is not None
            person.decisions.add(decision_id)

    async def get_decision(self, decision_id: str) -> Document | None:
        entry = self._decisions.get(decision_id)
        if entry is None or entry[1] <= self.clock():
            return None
        return copy.deepcopy(entry[0])

    async def decisions_of(self, profile_id: str) -> list[Document]:
        person = self._person(profile_id, create=False)
        if person is None:
            return []
        now, found = self.clock(), []
        for decision_id in sorted(person.decisions):
            entry = self._decisions.get(decision_id)
            if entry is not None and entry[1] > now:
                found.append(copy.deepcopy(entry[0]))
        return found

    async def recent_decisions(self, *, limit: int = 1000) -> list[Document]:
        now = self.clock()
        live = [record for record, expires in self._decisions.values() if expires > now]
        return [strip_identifiers(record) for record in live[-limit:]]

    # -- Counters --------------------------------------------------------------------------------
    async def incr(self, key: str, amounts: Mapping[str, float]) -> None:
        counter = self._counters.setdefault(key, {})
        for name, amount in amounts.items():
            counter[name] = counter.get(name, 0.0) + float(amount)

    async def incr_many(self, updates: Sequence[tuple[str, Mapping[str, float]]]) -> None:
        for key, amounts in updates:
            await self.incr(key, amounts)

    async def get_many(self, keys: Sequence[str]) -> list[dict[str, float]]:
        return [dict(self._counters.get(key, {})) for key in keys]

    async def scan_counters(self, pattern: str) -> dict[str, dict[str, float]]:
        return {k: dict(v) for k, v in self._counters.items() if fnmatch.fnmatchcase(k, pattern)}

    # -- PersonalRecords -------------------------------------------------------------------------
    async def incr_personal(
        self, profile_id: str, part: str, amounts: Mapping[str, float], *, ttl: timedelta
    ) -> dict[str, float]:
        assert part in PROFILE_PARTS, part
        person = self._person(profile_id, create=True)
        assert person is not None
        counter = person.counters.setdefault(part, {})
        for name, amount in amounts.items():
            counter[name] = counter.get(name, 0.0) + float(amount)
        self._extend(person, ttl)
        return {name: counter[name] for name in amounts}

    async def get_personal_counters(self, profile_id: str, part: str) -> dict[str, float]:
        person = self._person(profile_id, create=False)
        return dict(person.counters.get(part, {})) if person else {}

    async def put_record(
        self, profile_id: str, part: str, name: str, value: Document, *, ttl: timedelta
    ) -> None:
        assert part in PROFILE_PARTS, part
        person = self._person(profile_id, create=True)
        assert person is not None
        person.records.setdefault(part, {})[name] = copy.deepcopy(value)
        self._extend(person, ttl)

    async def get_records(self, profile_id: str, part: str) -> dict[str, Document]:
        person = self._person(profile_id, create=False)
        return copy.deepcopy(person.records.get(part, {})) if person else {}

    async def count_records(self, profile_id: str, part: str) -> int:
        person = self._person(profile_id, create=False)
        return len(person.records.get(part, {})) if person else 0

    async def delete_record(self, profile_id: str, part: str, name: str) -> None:
        person = self._person(profile_id, create=False)
        if person is not None:
            person.records.get(part, {}).pop(name, None)

    def _extend(self, person: _Person, ttl: timedelta) -> None:
        # A person's keys live as long as the longest-lived of them, as in Redis.
        until = self.clock() + ttl
        if person.expires_at is None or person.expires_at < until:
            person.expires_at = until

    async def close(self) -> None:
        return None
