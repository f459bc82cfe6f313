"""Stage 2 of a decision, *gather*: everything the decision reads about the person and the slots.

The reads: the consented profile and the person's frequency-cap counters, then, knowing the
profile, the segment names audiences see, the running A/B test's variant of each slot, the
immediate next action, and the bandit statistics of each slot's candidates in one round trip.
The candidates are the best-fitting eligible items of the slot
(:class:`SlotCandidates`, ranked here because the statistics are read for them only).

The reads depend on each other only through the profile (the audiences and the candidates'
fit need it), so the stage is one round trip for the profile and the caps, one for the rest
(run concurrently), and one for the statistics. A read that fails degrades the decision; it
never fails it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from content_pool.models import CHANNELS, Channel, ContentItem
from personalization.decisions.bandit_state import StatsTable, context_key
from personalization.decisions.eligibility import CAPS_PART, Eligibility
from personalization.decisions.models import (
    UNKNOWN,
    DecisionContext,
    DecisionProfile,
    DecisionRequest,
)
from personalization.decisions.parts import DeciderOptions, DeciderParts
from personalization.decisions.policies import BanditState
from personalization.decisions.ranking import ItemFeatures
from personalization.decisions.understanding import Understanding
from personalization.errors import PersonalizationError

log = logging.getLogger("kairos.decisions")

CONTROL = "control"
TREATMENT = "treatment"


@dataclass(frozen=True, slots=True)
class SlotCandidates:
    """The items competing for one slot.

    ``eligible`` marks the rows that pass the hard rules before the items placed in earlier
    slots are taken out. ``terms`` and ``fit`` are the ranking of every row; ``None`` in the
    control group, or when nothing is eligible (the slot's defaults are shown).
    """

    features: ItemFeatures
    eligible: np.ndarray
    terms: np.ndarray | None
    fit: np.ndarray | None


@dataclass(frozen=True, slots=True)
class Gathered:
    """What the decision knows once the reads are done.

    ``unit`` is the id that assigns the visitor to the control group and to A/B variants
    (profile, else anonymous id, else session). ``variants`` maps each slot with a running A/B
    test to ``(test, variant index)``. ``stats`` are the bandit statistics of every slot's
    candidates; ``None`` when none were needed or ``stats_failed``.
    """

    context: DecisionContext
    unit: str
    control: bool
    bandit_context: str
    caps: Mapping[str, float]
    audience: Mapping[str, Any]
    variants: Mapping[str, tuple[Any, int] | None]
    candidates: Mapping[str, SlotCandidates]
    stats: StatsTable | None
    stats_failed: bool
    next_action: dict[str, Any] | None
    degraded: bool
    crawler: bool = False

    @property
    def group(self) -> str:
        return CONTROL if self.control else TREATMENT


async def gather(
    parts: DeciderParts,
    options: DeciderOptions,
    bandit: BanditState,
    request: DecisionRequest,
    understanding: Understanding,
    now: datetime,
) -> Gathered:
    """Read what the decision of ``request`` needs. Raises only what is not a store failure."""
    profile, caps, degraded = await _personal(parts, request.profile_id)
    context = _context(request, understanding, profile)
    unit = request.profile_id or request.anonymous_id or request.session_id
    # A crawler gets the slot defaults, like the control group, and is never counted.
    control = understanding.is_bot or parts.holdout.in_control(unit)
    config = parts.policy.config
    bandit_context = context_key(context, config.context_features, config.factorised)
    (audience, segments_failed), variants, (next_action, advice_failed) = await asyncio.gather(
        _audience(parts, context),
        _variants(parts, request.slots, unit, control),
        _next_action(parts, request, understanding, now),
    )
    text_vector = _text_vector(parts, understanding.text) if not control else None
    candidates = {
        slot: _candidates(parts, slot, request.channel, context, now, caps, audience,
                          text_vector=text_vector, confidences=understanding.confidences,
                          rank=not control)
        for slot in request.slots
    }  # fmt: skip
    ids = _stats_ids(request, candidates, options.shortlist)
    stats, stats_failed = await _stats(bandit, ids, bandit_context)
    return Gathered(
        context=context, unit=unit, control=control, bandit_context=bandit_context, caps=caps,
        audience=audience, variants=variants, candidates=candidates, stats=stats,
        stats_failed=stats_failed, next_action=next_action,
        degraded=degraded or segments_failed or advice_failed, crawler=understanding.is_bot,
    )  # fmt: skip


def _context(
    request: DecisionRequest, understanding: Understanding, profile: DecisionProfile | None
) -> DecisionContext:
    u = understanding
    return DecisionContext(
        language=u.language,
        channel=request.channel,
        situation=u.summary.model_copy(update={"language": u.language}),
        phase=u.phase.name if u.phase else UNKNOWN,
        moment=u.moment.name if u.moment else UNKNOWN,
        intent=u.intent.name if u.intent else None,
        text=u.text,
        device=u.summary.device,
        profile=profile,
        situation_view=u.view,
        interests=u.interests,
        interest_evidence=u.interest_evidence,
    )


async def _none() -> None:
    return None


async def _personal(
    parts: DeciderParts, profile_id: str | None
) -> tuple[DecisionProfile | None, dict[str, float], bool]:
    """The consented profile and the cap counters, concurrently; ``True`` if a read failed."""
    if profile_id is None:
        return None, {}, False
    profile_task: Awaitable[DecisionProfile | None] = (
        parts.profiles.profile_for_decision(profile_id) if parts.profiles is not None else _none()
    )
    results = await asyncio.gather(
        profile_task,
        parts.store.get_personal_counters(profile_id, CAPS_PART),
        return_exceptions=True,
    )
    failed = False
    profile = results[0]
    if isinstance(profile, BaseException):
        if not isinstance(profile, PersonalizationError | OSError):
            raise profile
        log.warning("profile unavailable for a decision: %s", profile)
        profile, failed = None, True
    caps = results[1]
    if isinstance(caps, BaseException):
        if not isinstance(caps, PersonalizationError | OSError):
            raise caps
        caps, failed = {}, True
    return profile, caps, failed


async def _audience(
    parts: DeciderParts, context: DecisionContext
) -> tuple[Mapping[str, Any], bool]:
    audience: Mapping[str, Any] = context.audience_context()
    if parts.segments is None:
        return audience, False
    try:
        return await parts.segments.annotate(audience), False
    except (PersonalizationError, OSError):
        log.warning("segments unavailable; audiences see no segment")
        return audience, True


async def _variants(
    parts: DeciderParts, slots: Sequence[str], unit: str, control: bool
) -> dict[str, tuple[Any, int] | None]:
    """The visitor's variant of the A/B test running on each slot (none in the control group)."""
    found: dict[str, tuple[Any, int] | None] = {}
    if control or parts.abtests is None:
        return found
    for slot in slots:
        try:
            found[slot] = await parts.abtests.variant_for(slot, unit)
        except (PersonalizationError, OSError):
            log.warning("A/B tests unavailable; the bandit decides")
            found[slot] = None
    return found


async def _next_action(
    parts: DeciderParts, request: DecisionRequest, understanding: Understanding, now: datetime
) -> tuple[dict[str, Any] | None, bool]:
    if parts.next_action is None:
        return None, False
    try:
        action = await parts.next_action.advise(
            request.profile_id, understanding.situation, understanding.prediction, now)
    except (PersonalizationError, OSError):
        log.warning("next action unavailable for a decision")
        return None, True
    return action, False


def _text_vector(parts: DeciderParts, text: str | None) -> np.ndarray | None:
    encoder = parts.features.encoder
    if not text or encoder is None:
        return None
    try:
        vector: np.ndarray = np.asarray(encoder.encode([text])[0], dtype=np.float64)
    except Exception:
        log.exception("encoding the session text failed")
        return None
    return vector


def _candidates(
    parts: DeciderParts,
    slot: str,
    channel: Channel | None,
    context: DecisionContext,
    now: datetime,
    caps: Mapping[str, float],
    audience: Mapping[str, Any],
    *,
    text_vector: np.ndarray | None,
    confidences: tuple[float, float],
    rank: bool,
) -> SlotCandidates:
    features = parts.features.features(_placement(parts, slot, channel, context.language, now))
    eligible = Eligibility(parts.pool).mask(
        features, context, now=now, caps=caps, audience=audience
    )
    if not rank or not eligible.any():
        return SlotCandidates(features, eligible, None, None)
    terms = parts.ranker.terms(
        features, context, text_vector=text_vector,
        phase_confidence=confidences[0], moment_confidence=confidences[1],
    )  # fmt: skip
    about = parts.ranker.focus(terms, context)
    if about is not None and (eligible & about).any():  # a clear interest: only its items compete
        eligible = eligible & about
    return SlotCandidates(features, eligible, terms, parts.ranker.fit(terms))


def _placement(
    parts: DeciderParts, slot: str, channel: Channel | None, language: str, now: datetime
) -> Sequence[ContentItem]:
    # One dict lookup per channel, whatever the size of the pool.
    channels: Sequence[Channel] = (channel,) if channel else CHANNELS
    buckets = [parts.pool.eligible(slot, c, language, now) for c in channels]
    buckets = [b for b in buckets if b]
    if len(buckets) == 1:
        return buckets[0]
    return tuple(item for bucket in buckets for item in bucket)


def _stats_ids(
    request: DecisionRequest, candidates: Mapping[str, SlotCandidates], shortlist: int
) -> list[str]:
    """The items whose statistics the placement may ask for, over all slots.

    A slot's policy chooses among the ``shortlist`` best-fitting eligible items that earlier
    slots did not place. Earlier slots place at most ``items_per_slot`` items each, so those
    are among the ``shortlist + items_per_slot * position`` best-fitting items (with ties at
    the boundary kept): a bounded read, whatever the size of the placement.
    """
    ids: dict[str, None] = {}
    for position, slot in enumerate(request.slots):
        found = candidates[slot]
        if found.fit is None:
            continue
        rows = np.flatnonzero(found.eligible)
        bound = shortlist + request.items_per_slot * position
        if len(rows) > bound:
            fit = found.fit[rows]
            boundary = np.partition(fit, len(rows) - bound)[len(rows) - bound]
            rows = rows[fit >= boundary]
        ids.update((found.features.items[int(r)].id, None) for r in rows)
    return list(ids)


async def _stats(
    bandit: BanditState, ids: Sequence[str], bandit_context: str
) -> tuple[StatsTable | None, bool]:
    if not ids:
        return None, False
    try:
        return await bandit.read(ids, bandit_context), False
    except (PersonalizationError, OSError):
        log.warning("bandit statistics unavailable; deciding on fit alone")
        return None, True
