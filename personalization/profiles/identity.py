"""Identity: an anonymous visitor becomes a known person.

An event that carries both ``anonymous_id`` and ``profile_id`` (a login, an account created, or
anything else that knows both) says they are one person. The known profile then receives the
anonymous profile's events, replayed through the reducer with their original ids and times, so its
affinities, cart, intents, situation and consents carry over exactly; afterwards the anonymous
profile is erased. Replaying is idempotent: the store applies each event id once per profile, so a
merge that is repeated (a retry, a crash between the two steps) changes nothing more.

Only an anonymous profile is merged away: an ``anonymous_id`` that names a known profile is never
erased. The anonymous stream is bounded (``max_events_per_profile``); older events were already
forgotten and cannot be carried over. Events that arrive for the anonymous id after the merge start
a new anonymous profile: clients send the known id once they have it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from personalization.profiles.document import from_document
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.events import Event
from personalization.store.protocols import ProfileStore

log = logging.getLogger("kairos.identity")


def merges_in(events: Sequence[Event]) -> dict[str, str]:
    """``{anonymous_id: profile_id}`` declared by ``events``; the first claim of an id wins."""
    found: dict[str, str] = {}
    for event in events:
        pair = event.merges
        if pair is not None:
            found.setdefault(pair[0], pair[1])
    return found


def subject_of(event: Event, merges: Mapping[str, str]) -> str:
    """The profile an event updates, once the anonymous ids in ``merges`` are known people."""
    if event.profile_id:
        return event.profile_id
    assert event.anonymous_id is not None
    return merges.get(event.anonymous_id, event.anonymous_id)


async def mergeable(store: ProfileStore, anonymous_id: str) -> bool:
    """Whether ``anonymous_id`` may be merged away: its profile is anonymous or does not exist."""
    document = await store.get(anonymous_id)
    return document is None or from_document(document).anonymous


async def carried_events(store: ProfileStore, anonymous_id: str, *, limit: int) -> list[Event]:
    """The anonymous profile's stored events, oldest first, ready to replay."""
    events: list[Event] = []
    for document in await store.events(anonymous_id, limit=limit):
        try:
            events.append(parse_event(document))
        except ValidationError:  # written by an older version; nothing we can replay
            log.warning("stored event not replayable", extra={"event_id":
                                                              document.get("event_id")})
    return events
