"""What this visit is about so far: the interests of the moment, remembered per session.

A visit is several requests: the first page comes from a search for "leichtes zelt", the
second is a product page without any text, the third a cart. :class:`VisitMemory` keeps the
interests read from the earlier requests of the same ``session_id`` in the person's ``visit``
records (under the profile id for a known person, so ``erase`` forgets them, else under
``s-<session_id>``), for ``ttl`` after the last request. :func:`blend` combines them with what
this request says: an earlier interest fades by ``carry`` per request, and a clear new one
takes over.

>>> blend({"camping": 0.4}, {"hiking": 0.9}, carry=0.7)
{'hiking': 0.63, 'camping': 0.4}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from personalization.store.keys import session_owner
from personalization.store.protocols import PersonalRecords

PART = "visit"


def blend(
    current: Mapping[str, float], earlier: Mapping[str, float], *, carry: float, limit: int = 5
) -> dict[str, float]:
    """The interests of this request and the faded earlier ones, strongest first (rounded)."""
    merged = {topic: round(confidence * carry, 4) for topic, confidence in earlier.items()}
    for topic, confidence in current.items():
        merged[topic] = max(merged.get(topic, 0.0), round(confidence, 4))
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
    return {topic: confidence for topic, confidence in ranked[:limit] if confidence > 0}


class VisitMemory:
    """The interests of the moment of each session, bounded and expiring.

    >>> memory = VisitMemory(store)
    >>> earlier = await memory.recall(owner, session_id, now)
    >>> await memory.remember(owner, session_id, blend(current, earlier, carry=0.7), now)
    """

    def __init__(
        self,
        records: PersonalRecords,
        *,
        ttl: timedelta = timedelta(minutes=30),
        carry: float = 0.7,
        limit: int = 5,
    ) -> None:
        assert 0.0 <= carry <= 1.0 and limit >= 1, "carry lies in [0, 1]; limit is positive"
        self.records = records
        self.ttl = ttl
        self.carry = carry
        self.limit = limit

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

    def blend(self, current: Mapping[str, float], earlier: Mapping[str, float]) -> dict[str, float]:
        """:func:`blend` with this memory's ``carry`` and ``limit``."""
        return blend(current, earlier, carry=self.carry, limit=self.limit)

    async def remember(
        self, owner: str, session_id: str, interests: Mapping[str, float], now: datetime
    ) -> None:
        """Keep ``interests`` (already blended) as what the visit is about, as of ``now``."""
        await self.records.put_record(
            owner, PART, session_id, {"interests": dict(interests), "at": now.isoformat()},
            ttl=self.ttl,
        )  # fmt: skip
