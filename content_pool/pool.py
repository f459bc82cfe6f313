"""The live content pool: an in-memory index of live items, built from the store.

Lookups by ``(slot, channel, language)`` are one dict access; the cost of a decision does not
grow with the size of the pool, only with the number of items that compete for one placement.
Items are kept in each bucket by descending priority, then id. Audience conditions are
compiled once, when the index is built, and reused by later refreshes while unchanged.

The index is a snapshot: call :meth:`ContentPool.refresh` after edits (the content routes do
this for their own process) or periodically in every worker.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from content_pool.expressions import Expression, compile_expression
from content_pool.models import Channel, ContentItem
from content_pool.storage import ContentStore

_Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class _Bucket:
    timeless: tuple[ContentItem, ...]  # items without a validity window
    windowed: tuple[ContentItem, ...]  # items with valid_from or valid_to
    ordered: tuple[ContentItem, ...]  # both, in final order

    def at(self, now: datetime) -> Sequence[ContentItem]:
        if not self.windowed:
            return self.timeless
        return tuple(item for item in self.ordered if item.valid_at(now))


def _order(item: ContentItem) -> tuple[int, str]:
    return (-item.priority, item.id)


class ContentPool:
    """Live items indexed for the decision.

    >>> pool = ContentPool(store)
    >>> await pool.refresh()
    >>> pool.eligible("hero", "web", "de", now)
    """

    def __init__(self, store: ContentStore) -> None:
        self._store = store
        self._buckets: dict[_Key, _Bucket] = {}
        self._by_id: dict[str, ContentItem] = {}
        self._audiences: dict[str, Expression] = {}
        self._tagged: dict[tuple[str, str], tuple[ContentItem, ...]] = {}

    async def refresh(self) -> None:
        """Reload every item from the store and rebuild the index (swapped in at once)."""
        self.load(await self._store.all())

    def load(self, items: Iterable[ContentItem]) -> None:
        """Rebuild the index from ``items``; anything that is not ``live`` is left out."""
        grouped: dict[_Key, list[ContentItem]] = defaultdict(list)
        by_id: dict[str, ContentItem] = {}
        audiences: dict[str, Expression] = {}
        tagged: dict[tuple[str, str], list[ContentItem]] = defaultdict(list)
        compiled: dict[str, Expression] = {}
        for item in items:
            if item.status != "live":
                continue
            for tag in dict.fromkeys(item.tags):
                tagged[(tag, item.language)].append(item)
            grouped[(item.slot, item.channel, item.language)].append(item)
            by_id[item.id] = item
            source = item.targeting.audience
            if source:
                # most conditions are unchanged between refreshes: reuse their compiled form
                known = self._audiences.get(item.id)
                reused = known if known is not None and known.source == source else None
                audiences[item.id] = reused or compiled.get(source) or compile_expression(source)
                compiled[source] = audiences[item.id]
        buckets = {}
        for key, members in grouped.items():
            members.sort(key=_order)
            buckets[key] = _Bucket(
                timeless=tuple(i for i in members if i.valid_from is None and i.valid_to is None),
                windowed=tuple(i for i in members if i.valid_from or i.valid_to),
                ordered=tuple(members),
            )
        self._buckets, self._by_id, self._audiences = buckets, by_id, audiences
        self._tagged = {key: tuple(sorted(group, key=_order)) for key, group in tagged.items()}

    def apply(self, item: ContentItem) -> None:
        """Take one saved item into the index (or out of it, when it is no longer live) without
        reading the store: what a process does after its own write."""
        items = {key: value for key, value in self._by_id.items() if key != item.id}
        self.load([*items.values(), item])

    def forget(self, item_id: str) -> None:
        """Drop one item from the index (after it was deleted from the store)."""
        self.load(value for key, value in self._by_id.items() if key != item_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def slots(self) -> frozenset[str]:
        """The slots that have live items."""
        return frozenset(slot for slot, _, _ in self._buckets)

    def get(self, item_id: str) -> ContentItem | None:
        """The live item with this id, if any."""
        return self._by_id.get(item_id)

    def eligible(
        self, slot: str, channel: Channel, language: str, now: datetime
    ) -> Sequence[ContentItem]:
        """Live items for the placement that are valid at ``now``, by priority then id.

        Audience, phase, consent and frequency rules are the decision's job; this is the cheap
        first cut.
        """
        bucket = self._buckets.get((slot, channel, language))
        return bucket.at(now) if bucket else ()

    def defaults(
        self, slot: str, language: str, channel: Channel | None = None, now: datetime | None = None
    ) -> Sequence[ContentItem]:
        """Live default items of a slot and language (optionally one channel), by priority.

        With ``now`` only defaults valid at that time are returned.
        """
        found = [
            item
            for (b_slot, b_channel, b_language), bucket in self._buckets.items()
            if b_slot == slot and b_language == language and channel in (None, b_channel)
            for item in (bucket.ordered if now is None else bucket.at(now))
            if item.is_default
        ]
        return tuple(sorted(found, key=_order))

    def tagged(self, tag: str, language: str) -> Sequence[ContentItem]:
        """Live items carrying ``tag`` in ``language``, by priority (validity not checked).

        The chat engine finds its replies this way: ``pool.tagged("intent:track_order", "de")``.
        """
        return self._tagged.get((tag, language), ())

    def audience_matches(self, item: ContentItem, context: Mapping[str, Any]) -> bool:
        """Whether the item's audience condition holds in ``context`` (true when it has none)."""
        expression = self._audiences.get(item.id)
        if expression is None and item.targeting.audience:
            expression = compile_expression(item.targeting.audience)
        return expression is None or expression.matches(context)

    def placements(self) -> Sequence[tuple[str, str, str]]:
        """Every ``(slot, channel, language)`` that has at least one live item."""
        return tuple(sorted(self._buckets))
