"""Stage 5 of a decision, *log*: the decision log, the counters and the frequency caps.

:func:`writes` turns a decision into the :class:`Writes` it causes (pure);
:func:`log_decision` carries them out: the A/B exposures, the decision record (for feedback,
with its propensities), then the report and bandit counters in one round trip and the
person's cap counters in another. Only a decision that cannot be logged is answered degraded;
a failed count degrades it too. Nothing here raises for a store failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from personalization.decisions.eligibility import CAPS_PART, CAPS_TTL, cap_fields
from personalization.decisions.gathering import TREATMENT, Gathered
from personalization.decisions.models import Decision, DecisionRequest
from personalization.decisions.parts import DeciderOptions, DeciderParts
from personalization.decisions.placement import Placement
from personalization.decisions.policies import BanditState
from personalization.errors import PersonalizationError

log = logging.getLogger("kairos.decisions")


def stats_key(namespace: str, slot: str, item_id: str, phase: str, moment: str, group: str) -> str:
    """The report counter of one item of a slot in one phase/moment and group."""
    return f"{namespace}:{slot}:{item_id}:{phase}|{moment}:{group}"


@dataclass(frozen=True, slots=True)
class Writes:
    """Everything a decision writes.

    ``exposures`` are ``(test, variant index)`` of the A/B tests shown, ``record`` the decision
    log entry, ``counters`` the report and bandit increments (one slot each, batched),
    ``caps`` the increments of the person's cap counters (the person's slot).
    """

    exposures: tuple[tuple[Any, int], ...]
    record: dict[str, Any]
    counters: list[tuple[str, Mapping[str, float]]]
    caps: dict[str, float]


def writes(
    parts: DeciderParts,
    options: DeciderOptions,
    bandit: BanditState,
    request: DecisionRequest,
    decision: Decision,
    gathered: Gathered,
    placement: Placement,
    now: datetime,
) -> Writes:
    """The writes of ``decision``: its log record, its showings, its exposures."""
    context, group = gathered.context, gathered.group
    tested = {entry["item_id"] for slot in placement.slots.values() for entry in slot.record
              if entry.get("abtest") or entry.get("pinned")}  # fmt: skip
    counters: list[tuple[str, Mapping[str, float]]] = []
    caps: dict[str, float] = {}
    for name, slot in placement.slots.items():
        for placed in slot.placed:
            item = placed.item
            key = stats_key(
                options.stats_namespace, name, item.id, context.phase, context.moment, group
            )
            counters.append((key, {"served": 1.0}))
            if group == TREATMENT and item.id not in tested:
                counters += bandit.updates(item.id, gathered.bandit_context, served=1.0,
                                           expected=placed.prior)  # fmt: skip
            cap = item.frequency_cap
            if request.profile_id is not None and (cap.per_day or cap.per_week):
                for field in cap_fields(item.id, now):
                    caps[field] = 1.0
    exposures = tuple(s.exposure for s in placement.slots.values() if s.exposure is not None)
    record = _record(parts, request, decision, gathered, placement, now)
    return Writes(exposures, record, counters, caps)


def _record(
    parts: DeciderParts,
    request: DecisionRequest,
    decision: Decision,
    gathered: Gathered,
    placement: Placement,
    now: datetime,
) -> dict[str, Any]:
    context = gathered.context
    return {
        "decision_id": decision.decision_id,
        "at": now.isoformat(),
        "session_id": request.session_id,
        "profile_id": request.profile_id,
        "anonymous_id": request.anonymous_id,
        "group": gathered.group,
        "policy": parts.policy.config.name,
        "bandit_context": gathered.bandit_context,
        "context": {
            "phase": context.phase,
            "moment": context.moment,
            "device": context.device,
            "medium": context.situation.medium,
            "language": context.language,
            "lifecycle": context.lifecycle,
            "personalised": context.profile is not None,
        },
        "slots": placement.records(),
        "feedback": {},
    }


async def log_decision(
    parts: DeciderParts,
    options: DeciderOptions,
    decision: Decision,
    planned: Writes,
    *,
    unit: str,
    profile_id: str | None,
) -> Decision:
    """Carry out ``planned``; the decision, marked ``degraded`` when a write failed.

    Raises what the A/B tests raise when an exposure cannot be counted.
    """
    if parts.abtests is not None:
        for test, index in planned.exposures:
            await parts.abtests.expose(test, index, unit)
    try:
        await parts.store.put_decision(
            decision.decision_id, planned.record, profile_id=profile_id, ttl=options.decision_ttl
        )
    except (PersonalizationError, OSError):
        # The page still gets its content; feedback on this decision will be refused.
        log.warning("decision could not be logged; answered degraded")
        return decision.model_copy(update={"degraded": True})
    if not await _count(parts, planned, profile_id):
        return decision.model_copy(update={"degraded": True})
    return decision


async def _count(parts: DeciderParts, planned: Writes, profile_id: str | None) -> bool:
    """Count the showings (bandit, reports, frequency caps); ``False`` if that failed."""
    # Reports and bandit in one round trip, frequency caps (the person's slot) in another.
    store = parts.store
    pending: list[Awaitable[Any]] = [store.incr_many(planned.counters)]
    if planned.caps and profile_id is not None:
        pending.append(store.incr_personal(profile_id, CAPS_PART, planned.caps, ttl=CAPS_TTL))
    results = await asyncio.gather(*pending, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    for error in errors:
        if not isinstance(error, PersonalizationError | OSError):
            raise error
    if errors:
        log.warning("counting a decision failed: %s", errors[0])
    return not errors
