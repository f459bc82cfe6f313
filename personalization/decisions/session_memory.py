"""What this visit is about so far: the interests of the moment, remembered per session.

A visit is several requests: the first page comes from a search for "leichtes zelt", the
second is a product page without any text, the third a cart. :class:`VisitMemory` keeps the
interests the latest request of a ``session_id`` was read with in the person's ``visit`` records
(under the profile id for a known person, so ``erase`` forgets them, else under
``s-<session_id>``), for ``ttl`` after that request. The decider hands them to the situation
reader with the next request; the interest reader fades them there and blends them with what
that request says (:mod:`intent.interest.reader`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from personalization.store.keys import session_owner
from personalization.store.protocols import PersonalRecords

PART = "visit"


class VisitMemory:
    """The interests of the moment of each session, expiring after ``ttl``.

    >>> memory = VisitMemory(store)
    >>> earlier = await memory.recall(owner, session_id, now)
    >>> await memory.remember(owner, session_id, interests_read_with_earlier, now)
    """

    def __init__(self, records: PersonalRecords, *, ttl: timedelta = timedelta(minutes=30)) -> None:
        self.records = records
        self.ttl = ttl

    owner = staticmethod(session_owner)
    """Whose records hold the visit: the profile, else the anonymous session."""

    async def recall(self, owner: str, session_id: str, now: datetime) -> dict[str, float]:
        """The interests remembered for the session; empty when none or expired."""
        doc = (await self.records.get_records(owner, PART)).get(session_id) or {}
        interests, at = doc.get("interests"), doc.get("at")
        if not isinstance(interests, dict) or not isinstance(at, str):
            return {}
        try:
            if datetime.fromisoformat(at) + self.ttl <= now:
                return {}
        except ValueError:
            return {}
        return {str(k): float(v) for k, v in interests.items() if isinstance(v, int | float)}

    async def remember(
        self, owner: str, session_id: str, interests: Mapping[str, float], now: datetime
    ) -> None:
        """Keep ``interests`` (as read with the earlier ones) as what the visit is about now."""
        await self.records.put_record(
            owner, PART, session_id, {"interests": dict(interests), "at": now.isoformat()},
            ttl=self.ttl,
        )  # fmt: skip
