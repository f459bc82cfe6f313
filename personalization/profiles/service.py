"""The profile service: ingest events, read, correct, merge, export and erase profiles.

Built once (in the app's lifespan) from the store, a clock and a :class:`ProfilePolicy`::

    profiles = ProfileService(store, clock=system_clock, policy=ProfilePolicy())
    profiles.add_listener(my_listener)       # reacts to every ingested batch
    report = await profiles.ingest(events)   # events: list[Event], already validated

Every update goes through :meth:`ProfileStore.apply`, so it is atomic per profile, idempotent per
``event_id`` and acknowledged only once stored. Corrections (:meth:`patch`) are events too
(``profile_update`` / ``consent_update`` with source ``"admin"``), so the person's event stream is
also the audit trail of their profile.

Listeners (:class:`EventListener`) are called after the store acknowledged, once per profile that
changed, with the events newly applied and the lifecycle transitions they caused (events carried
over from an anonymous profile by a merge are history, not news, and are not passed again). A
failing listener is logged and does not fail the ingestion: the events are stored already.

With an interest reader (``interests=``), events that name no category but say what they are
about (a URL, a search query, a title, a product name) get the topics read from those texts
(:mod:`personalization.profiles.topics`) before they are stored, marked as ``inferred`` in the
stored event; the reducer adds them to the affinities weighted by their confidence. Like named
categories, inferred affinities are kept for every profile; only their *use* needs the person's
personalisation consent (:func:`~personalization.profiles.consent.profile_for_decision`).

Without a change feed the listeners run inside :meth:`ProfileService.ingest`, before it returns.
With one (``changes=``, see :mod:`personalization.profiles.reactions`) ``ingest`` appends one change
per changed profile to the feed instead and returns; whoever consumes the feed calls :meth:`react`,
which runs the same listeners with the profile as stored by then.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from intent.interest import InterestReader
from personalization.clock import Clock, system_clock
from personalization.errors import STORE_ERRORS, ProfileNotFound
from personalization.profiles import identity
from personalization.profiles.document import from_document, to_document
from personalization.profiles.event_parsing import event_document, parse_event
from personalization.profiles.events import (
    AttributesUpdate,
    ConsentProperties,
    ConsentUpdate,
    Custom,
    Event,
    ProfileUpdate,
    Purpose,
)
from personalization.profiles.profile import Profile, ProfilePolicy, Transition
from personalization.profiles.reactions import ChangeFeed
from personalization.profiles.reducer import reduce
from personalization.profiles.topics import EventTopics
from personalization.store.protocols import (
    DecisionsOfPerson,
    Document,
    PersonalRecords,
    ProfileStore,
)

log = logging.getLogger("kairos.profiles")

EXPORTED_RECORDS = ("actions", "conversation")
EXPORTED_COUNTERS = ("caps", "ab")  # ab: A/B assignments, kept as counters


class Store(ProfileStore, DecisionsOfPerson, PersonalRecords, Protocol):
    """What the profile service needs of the store."""


class EventListener(Protocol):
    """Something that reacts to ingested events (automation, statistics)."""

    async def on_events(
        self, profile: Profile, events: Sequence[Event], transitions: Sequence[Transition]
    ) -> None:
        """Called once per changed profile, after the store acknowledged the events."""
        ...


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What happened to a batch: ids applied, ids seen before, profiles changed, merges done."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    merged: dict[str, str] = field(default_factory=dict)


class ProfileService:
    """The domain service behind ``/v1/events`` and ``/v1/profiles``."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = system_clock,
        policy: ProfilePolicy | None = None,
        listeners: Sequence[EventListener] = (),
        erasers: Sequence[Callable[[str], Awaitable[object]]] = (),
        max_carried_events: int = 1000,
        changes: ChangeFeed | None = None,
        interests: InterestReader | None = None,
    ) -> None:
        self.store = store
        self.topics = EventTopics(interests) if interests is not None else None
        self.changes = changes
        self.clock = clock
        self.policy = policy or ProfilePolicy()
        self.listeners = list(listeners)
        self.erasers: list[Callable[[str], Awaitable[object]]] = []
        if changes is not None:
            self.erasers.append(changes.forget)  # waiting changes name the person
        self.erasers.extend(erasers)
        self.max_carried_events = max_carried_events

    def add_listener(self, listener: EventListener) -> None:
        self.listeners.append(listener)

    def add_eraser(self, eraser: Callable[[str], Awaitable[object]]) -> None:
        """Also call ``eraser(profile_id)`` on erasure, for data kept outside the person's keys
        (the automation schedule and published actions)."""
        self.erasers.append(eraser)

    # -- writing ---------------------------------------------------------------------------------
    async def ingest(self, events: Sequence[Event]) -> IngestReport:
        """Apply validated events; returns once every one of them is stored.

        Events without a timestamp get the current time. Events that pair an anonymous id with a
        known id merge the anonymous profile into the known one
        (:mod:`personalization.profiles.identity`). Raises ``StoreUnavailable`` (nothing
        acknowledged) or ``ConflictError``.
        """
        now = self.clock()
        events = [e if e.timestamp else e.model_copy(update={"timestamp": now}) for e in events]
        if self.topics is not None:
            events = self.topics.infer(events)
        else:  # only Kairos infers: a caller's ``inferred`` is never kept
            events = [e.model_copy(update={"inferred": None}) if e.inferred else e
                      for e in events]
        merges = {a: k for a, k in identity.merges_in(events).items()
                  if await identity.mergeable(self.store, a)}
        groups: dict[str, list[Event]] = {}
        for event in events:
            groups.setdefault(identity.subject_of(event, merges), []).append(event)
        for anonymous_id, profile_id in merges.items():
            carried = await identity.carried_events(
                self.store, anonymous_id, limit=self.max_carried_events)
            groups[profile_id] = carried + groups[profile_id]
        replayed = {e.event_id for pid in merges.values() for e in groups[pid]} - {
            e.event_id for e in events}
        changes = await self._apply(groups, merges, create=True, replayed=replayed)
        for anonymous_id, profile_id in merges.items():
            if profile_id in changes.documents:  # the known profile holds what was carried over
                await self.store.erase(anonymous_id)
        sent = {e.event_id for e in events}
        return IngestReport(
            accepted=[i for i in changes.applied if i in sent],
            duplicates=[i for i in changes.duplicates if i in sent],
            profiles=list(changes.profiles),
            merged=merges,
        )

    async def patch(
        self,
        profile_id: str,
        *,
        attributes: AttributesUpdate | None = None,
        consents: Mapping[Purpose, bool] | None = None,
        source: str = "admin",
    ) -> Profile:
        """Correct known attributes and consents of an existing profile; raises ProfileNotFound."""
        now = self.clock()
        events: list[Event] = []
        # The anonymous id names the profile without claiming that the person is known.
        ids = {"anonymous_id": profile_id, "timestamp": now}
        if attributes is not None and attributes.model_fields_set:
            events.append(ProfileUpdate(event_id=f"patch-{uuid.uuid4().hex}",
                                        type="profile_update", properties=attributes, **ids))
        if consents:
            events.append(ConsentUpdate(
                event_id=f"patch-{uuid.uuid4().hex}", type="consent_update",
                properties=ConsentProperties(consents=dict(consents), source=source), **ids))
        await self._apply({profile_id: list(events)}, {}, create=False)
        return await self.get(profile_id)

    async def merge(self, anonymous_id: str, profile_id: str) -> Profile:
        """Merge an anonymous profile into a known one (idempotent); returns the known profile."""
        marker = Custom(event_id=f"merge-{anonymous_id}", type="custom", name="identity_merge",
                        anonymous_id=anonymous_id, profile_id=profile_id)
        await self.ingest([marker])
        return await self.get(profile_id)

    async def refresh(self, profile_ids: Sequence[str]) -> list[Profile]:
        """Re-evaluate lifecycle stages at the current time (time alone makes people lapse).

        Listeners hear about the transitions. Returns the profiles that exist.
        """
        changes = await self._apply({pid: [] for pid in profile_ids}, {}, create=False)
        return [changes.documents[pid] for pid in profile_ids if pid in changes.documents]

    async def erase(self, profile_id: str) -> bool:
        """Delete everything stored about the person; ``True`` if anything existed.

        Erasers run first: they may need the person's records to find what lies elsewhere.
        """
        for eraser in self.erasers:
            await eraser(profile_id)
        return await self.store.erase(profile_id)

    async def react(self, change: Document) -> None:
        """Run the listeners on a change taken from the feed (see :mod:`~.reactions`).

        The profile is read as stored now; a profile erased or expired meanwhile has nothing
        left to react to. Store errors propagate (the change stays in the feed and comes back).
        """
        profile = await self.find(str(change["profile_id"]))
        if profile is None:
            return
        events = [parse_event(d) for d in change.get("events", [])]
        transitions = [Transition.model_validate(t) for t in change.get("transitions", [])]
        await self._notify(profile, events, transitions, reraise=STORE_ERRORS)

    # -- reading ---------------------------------------------------------------------------------
    async def find(self, profile_id: str) -> Profile | None:
        document = await self.store.get(profile_id)
        return from_document(document) if document is not None else None

    async def get(self, profile_id: str) -> Profile:
        """The profile; raises ``ProfileNotFound``."""
        profile = await self.find(profile_id)
        if profile is None:
            raise ProfileNotFound(f"no profile {profile_id!r}")
        return profile

    async def export(self, profile_id: str) -> dict[str, Any]:
        """Everything stored about the person, as JSON-ready data; raises ``ProfileNotFound``.

        ``profile``, ``events`` (the retained stream, oldest first), the live ``decisions`` made
        for the person, and the personal ``records`` and ``counters`` other features keep
        (pending actions, chat state, A/B assignments, frequency caps).
        """
        profile = await self.find(profile_id)
        events = await self.store.events(profile_id, limit=100_000)
        records = {p: await self.store.get_records(profile_id, p) for p in EXPORTED_RECORDS}
        counters = {p: await self.store.get_personal_counters(profile_id, p)
                    for p in EXPORTED_COUNTERS}
        decisions = await self.store.decisions_of(profile_id)
        if profile is None and not events and not decisions and not any(
                records.values()) and not any(counters.values()):
            raise ProfileNotFound(f"no profile {profile_id!r}")
        return {
            "profile_id": profile_id,
            "exported_at": self.clock().isoformat(),
            "profile": profile.model_dump(mode="json") if profile is not None else None,
            "events": events,
            "decisions": decisions,
            "records": records,
            "counters": counters,
        }

    # -- internals -------------------------------------------------------------------------------
    async def _apply(
        self,
        groups: Mapping[str, Sequence[Event]],
        merges: Mapping[str, str],
        *,
        create: bool,
        replayed: frozenset[str] | set[str] = frozenset(),
    ) -> _Changes:
        """Apply each group to its profile; listeners hear of all but ``replayed`` events."""
        now, policy = self.clock(), self.policy
        known = {(subject, e.event_id): e for subject, evs in groups.items() for e in evs}
        transitions: dict[str, list[Transition]] = {}
        # What the reducer's last run wrote per profile (the last run is the one stored).
        written: dict[str, Profile | None] = {}

        def subject_of(current: Document | None, fresh: Sequence[Document]) -> str | None:
            if current is not None:
                return str(current["id"])
            for doc in fresh:
                if doc.get("profile_id"):
                    return str(doc["profile_id"])
            if fresh:
                anonymous = str(fresh[0]["anonymous_id"])
                return merges.get(anonymous, anonymous)
            return None

        def reducer(current: Document | None, fresh: Sequence[Document]) -> Document | None:
            subject = subject_of(current, fresh)
            if subject is None or (current is None and not create):
                return None
            events = [known.get((subject, str(d["event_id"]))) or parse_event(d) for d in fresh]
            profile = from_document(current) if current is not None else None
            result = reduce(profile, events, profile_id=subject, now=now, policy=policy,
                            copy=False)  # ``profile`` was parsed for this call alone
            transitions[subject] = result.transitions
            if not events and not result.transitions:
                written[subject] = None
                return None  # nothing new: write nothing
            written[subject] = result.profile
            return to_document(result.profile)

        documents = {(pid, e.event_id): event_document(e) for pid, evs in groups.items()
                     for e in evs}
        batch = [(pid, [documents[(pid, e.event_id)] for e in evs]) for pid, evs in groups.items()]
        results = await self.store.apply(batch, reducer)
        changes = _Changes()
        notices: list[Coroutine[Any, Any, None]] = []
        feed: list[Document] = []
        for result in results:
            changes.applied += result.applied
            changes.duplicates += result.duplicates
            if result.profile is None:
                continue
            profile = written.get(result.profile_id)
            if profile is None:  # nothing written: the stored profile as it is
                changes.documents[result.profile_id] = from_document(result.profile)
                continue
            changes.documents[result.profile_id] = profile
            moved = transitions.get(result.profile_id, [])
            if result.applied or moved:
                changes.profiles.append(result.profile_id)
                # Carried-over history is not news: listeners already heard it (or could not act).
                applied = [known[(result.profile_id, i)] for i in result.applied
                           if (result.profile_id, i) in known and i not in replayed]
                if self.changes is not None:
                    feed.append({
                        "profile_id": result.profile_id,
                        "events": [documents[(result.profile_id, e.event_id)] for e in applied],
                        "transitions": [t.model_dump(mode="json") for t in moved],
                    })
                else:
                    notices.append(self._notify(profile, applied, moved))
        if feed:
            assert self.changes is not None
            await self.changes.append(feed)  # before the answer: an acknowledged event is news
        # Profiles are independent: their listeners run concurrently (each profile's in order).
        await asyncio.gather(*notices)
        return changes

    async def _notify(
        self, profile: Profile, events: Sequence[Event], transitions: Sequence[Transition],
        *, reraise: tuple[type[BaseException], ...] = (),
    ) -> None:
        for listener in self.listeners:
            try:
                await listener.on_events(profile, events, transitions)
            except reraise:
                raise
            except Exception:  # the events are stored; one listener must not undo that
                log.exception("profile listener failed",
                              extra={"listener": type(listener).__name__})


@dataclass
class _Changes:
    applied: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    documents: dict[str, Profile] = field(default_factory=dict)
