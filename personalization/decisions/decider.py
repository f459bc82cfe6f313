"""The decision: situation + intent + (consented) profile -> the best content for each slot.

:meth:`Decider.decide` runs five stages, each a function with a frozen value as its output:

1. **understand** (:mod:`~personalization.decisions.understanding`): the situation, and the
   intent, phase and moment of the text (an utterance or a search term) -> ``Understanding``;
2. **gather** (:mod:`~personalization.decisions.gathering`): everything read from the store,
   the consented profile, the frequency caps, the segments, the A/B variants, the next action,
   and the bandit statistics of each slot's best-fitting eligible candidates -> ``Gathered``;
3. **place** (:mod:`~personalization.decisions.placement`): per slot, a pinned item, the A/B
   variant, the defaults (control group, :mod:`~personalization.decisions.holdout`) or the
   policy's choice among the shortlist (:mod:`~personalization.decisions.eligibility`,
   :mod:`~personalization.decisions.ranking`, :mod:`~personalization.decisions.policies`)
   -> ``Placement``; each placed item is **rendered** in the sandbox as it is placed
   (:mod:`~personalization.decisions.rendering`), since one that fails passes its place on;
4. **answer**: the :class:`~personalization.decisions.models.Decision`;
5. **log** (:mod:`~personalization.decisions.recording`): the decision log with its
   propensities, the report and bandit counters, the frequency caps.

A failing dependency (intent model, profile, bandit statistics, a template) never fails the
decision: it falls back to what is still known and sets ``degraded``.

:meth:`Decider.feedback` records what happened to a shown item; a click is the bandit's reward.

Cost per slot is one dict lookup in the pool index, one pass over the items competing for that
placement (vectorised), one encoding of the session text; the statistics of every slot are one
round trip; it does not depend on the size of the pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from content_pool.pool import ContentPool
from personalization.decisions.adapters import ConsentedProfiles, PlannerAdvisor, ProfileFinder
from personalization.decisions.gathering import CONTROL, TREATMENT, Gathered, gather
from personalization.decisions.models import (
    UNKNOWN,
    Decision,
    DecisionRequest,
    FeedbackEvent,
)
from personalization.decisions.parts import (
    AudienceSegments,
    DeciderOptions,
    DeciderParts,
    DecisionStore,
    IntentPredictor,
    NextActionAdvisor,
    ProfileSource,
    SituationReader,
    SlotTests,
    TextEncoder,
)
from personalization.decisions.placement import Placement, place
from personalization.decisions.policies import BanditState
from personalization.decisions.recording import log_decision, stats_key, writes
from personalization.decisions.understanding import Understanding, understand
from personalization.errors import (
    DecisionNotFound,
    InvalidEvent,
    PersonalizationError,
    UnknownSlot,
)

__all__ = [
    "CONTROL", "TREATMENT", "AudienceSegments", "ConsentedProfiles", "Decider", "DeciderOptions",
    "DeciderParts", "DecisionStore", "IntentPredictor", "NextActionAdvisor", "PlannerAdvisor",
    "ProfileFinder", "ProfileSource", "SituationReader", "SlotTests", "TextEncoder", "stats_key",
]  # fmt: skip

log = logging.getLogger("kairos.decisions")

_FEEDBACK_FIELDS: dict[str, str] = {
    "impression": "impressions", "click": "clicks", "conversion": "conversions",
    "dismiss": "dismissals",
}  # fmt: skip


class Decider:
    """Decides what to show. Build one per process; ``decide`` is safe to call concurrently.

    >>> decider = Decider(DeciderParts(pool, store, renderer=Renderer(),
    ...                                policy=make_policy("thompson"),
    ...                                features=FeatureIndex(encoder), holdout=Holdout(0.1)))
    >>> decision = await decider.decide(request, now)
    """

    def __init__(self, parts: DeciderParts, options: DeciderOptions | None = None) -> None:
        self.parts = parts
        self.options = options or DeciderOptions()
        self.bandit = BanditState(parts.store)
        self._refreshed_at: datetime | None = None
        self._next_refresh: datetime | None = None
        self._refresh_lock = asyncio.Lock()

    @property
    def pool(self) -> ContentPool:
        return self.parts.pool

    @property
    def store(self) -> DecisionStore:
        return self.parts.store

    # -- the pool snapshot ------------------------------------------------------------------

    async def refresh_pool(self, now: datetime) -> None:
        """Reload the pool from its store and precompute the features of every live item."""
        async with self._refresh_lock:
            await self.pool.refresh()
            self.warm(now)
            self._refreshed_at = now
            if self.options.pool_refresh is not None:
                self._next_refresh = now + self.options.pool_refresh

    def pool_age(self, now: datetime) -> timedelta | None:
        """How old the pool snapshot is (``None`` before the first refresh)."""
        return None if self._refreshed_at is None else now - self._refreshed_at

    def warm(self, now: datetime) -> None:
        """Precompute item embeddings and features for every placement of the pool."""
        for slot, channel, language in self.pool.placements():
            self.parts.features.features(self.pool.eligible(slot, channel, language, now))  # type: ignore[arg-type]

    async def _maybe_refresh(self, now: datetime) -> None:
        every = self.options.pool_refresh
        if every is None or self._refresh_lock.locked():
            return
        if self._next_refresh is None or now >= self._next_refresh:
            self._next_refresh = now + every
            try:
                await self.refresh_pool(now)
            except Exception:  # keep serving the old snapshot; try again after ``every``
                log.exception("refreshing the content pool failed")

    # -- deciding ---------------------------------------------------------------------------

    async def decide(
        self,
        request: DecisionRequest,
        now: datetime,
        *,
        pinned: Mapping[str, tuple[str, str]] | None = None,
    ) -> Decision:
        """Choose, render and log the content of every requested slot.

        ``pinned`` maps a slot to ``(item_id, reason)`` the caller already chose by an explicit
        rule (the chat's reply to a recognised intent): it is placed, logged with propensity 1
        and the reason, and, like an A/B variant, not learned from by the bandit.

        Raises :class:`~personalization.errors.StoreUnavailable` only when the decision cannot
        be logged; everything else degrades.
        """
        await self._maybe_refresh(now)
        self._check_slots(request.slots)
        parts, options = self.parts, self.options
        earlier = await self._visit_so_far(request, now)
        understanding = understand(
            request, now, reader=parts.situation_reader, intent=parts.intent,
            default_language=options.default_language,
            min_confidence=options.min_intent_confidence, earlier=earlier,
        )  # fmt: skip
        gathered = await gather(parts, options, self.bandit, request, understanding, now)
        placement = place(parts, options, request, gathered, now, pinned or {})
        decision = self._answer(understanding, gathered, placement)
        if understanding.is_bot:  # defaults, never logged, counted or learned from
            return decision
        await self._remember_visit(request, earlier, understanding.interests, now)
        planned = writes(parts, options, self.bandit, request, decision, gathered, placement, now)
        return await log_decision(parts, options, decision, planned, unit=gathered.unit,
                                  profile_id=request.profile_id)  # fmt: skip

    def _check_slots(self, slots: Sequence[str]) -> None:
        """Raise :class:`UnknownSlot` for a slot no live item has (while the pool has any: an
        empty pool is a store that has not answered yet, and the page gets empty slots)."""
        known = self.pool.slots()
        unknown = [slot for slot in slots if slot not in known]
        if known and unknown:
            raise UnknownSlot(
                f"no live content for slot {unknown[0]!r}; known slots: {', '.join(sorted(known))}"
            )

    async def _visit_so_far(self, request: DecisionRequest, now: datetime) -> dict[str, float]:
        """The interests of the moment of the session's earlier requests (empty if unknown)."""
        visit = self.parts.visit
        if visit is None:
            return {}
        owner = visit.owner(request.profile_id, request.session_id)
        try:
            return await visit.recall(owner, request.session_id, now)
        except (PersonalizationError, OSError):
            log.warning("visit memory unavailable; this request stands alone")
            return {}

    async def _remember_visit(
        self,
        request: DecisionRequest,
        earlier: Mapping[str, float],
        interests: Mapping[str, float],
        now: datetime,
    ) -> None:
        """Keep what this visit is about for its next request (only when it changed)."""
        visit = self.parts.visit
        if visit is None or not interests or dict(interests) == dict(earlier):
            return
        owner = visit.owner(request.profile_id, request.session_id)
        try:
            await visit.remember(owner, request.session_id, interests, now)
        except (PersonalizationError, OSError):
            log.warning("visit memory unavailable; the next request will not know this one")

    def _answer(
        self, understanding: Understanding, gathered: Gathered, placement: Placement
    ) -> Decision:
        return Decision(
            decision_id=self.parts.new_id(),
            next_action=gathered.next_action,
            situation=gathered.context.situation,
            intent=understanding.intent,
            phase=understanding.phase,
            moment=understanding.moment,
            lifecycle=gathered.context.lifecycle,
            personalised=gathered.context.profile is not None,
            in_control_group=gathered.control and not understanding.is_bot,
            slots=placement.items(),
            degraded=understanding.degraded or gathered.degraded or not placement.ok,
        )

    # -- feedback ---------------------------------------------------------------------------

    async def feedback(
        self, decision_id: str, item_id: str, event: FeedbackEvent, value: float | None = None
    ) -> bool:
        """Record what happened to an item of a decision; ``False`` if it was already recorded.

        A click rewards the bandit (treatment group only); every event is counted for the
        reports. Raises :class:`DecisionNotFound` for an unknown or expired decision and
        :class:`InvalidEvent` when the item was not part of it.
        """
        store = self.parts.store
        record = await store.get_decision(decision_id)
        if record is None:
            raise DecisionNotFound(f"decision {decision_id!r} is unknown or expired")
        shown = {entry["item_id"]: slot for slot, entries in record.get("slots", {}).items()
                 for entry in entries}  # fmt: skip
        if item_id not in shown:
            raise InvalidEvent(f"item {item_id!r} was not shown in decision {decision_id!r}")
        seen = record.setdefault("feedback", {}).setdefault(item_id, [])
        if event in seen:
            return False
        seen.append(event)
        if value is not None:
            record.setdefault("values", {})[item_id] = value
        await asyncio.gather(*self._feedback_writes(record, shown[item_id], item_id, event, value))
        await store.put_decision(decision_id, record, profile_id=record.get("profile_id"),
                                 ttl=self.options.decision_ttl)  # fmt: skip
        return True

    def _feedback_writes(
        self,
        record: dict[str, Any],
        slot: str,
        item_id: str,
        event: FeedbackEvent,
        value: float | None,
    ) -> list[Awaitable[Any]]:
        """The counter updates of one feedback event: reports, bandit reward, A/B goals."""
        ctx = record.get("context", {})
        group = record.get("group", TREATMENT)
        key = stats_key(self.options.stats_namespace, slot, item_id, ctx.get("phase", UNKNOWN),
                        ctx.get("moment", UNKNOWN), group)  # fmt: skip
        amounts = {_FEEDBACK_FIELDS[event]: 1.0}
        if event == "conversion" and value:
            amounts["value"] = float(value)
        pending: list[Awaitable[Any]] = [self.parts.store.incr(key, amounts)]
        tested = any(entry.get("abtest") or entry.get("pinned")
                     for entries in record.get("slots", {}).values()
                     for entry in entries if entry.get("item_id") == item_id)  # fmt: skip
        if event == "click" and group == TREATMENT and not tested:
            pending.append(self.bandit.partial_fit(item_id, record["bandit_context"], reward=1.0))
        person = record.get("profile_id") or record.get("anonymous_id") or record.get(
            "session_id")
        abtests = self.parts.abtests
        if abtests is not None and person and event in ("click", "conversion"):
            pending.append(abtests.record_goal(person, event, self.parts.clock(), item_id=item_id))
        return pending
