"""Stage 3 of a decision, *place*: which items fill each slot, in the order the slots are asked.

Per slot, the first that applies:

1. a **pinned** item the caller chose by an explicit rule (propensity 1, not learned from);
2. the visitor's **A/B variant** when a test runs on the slot and the variant is eligible
   (propensity the variant's share, not learned from);
3. the slot's **defaults** for the control group, or when nothing is eligible;
4. the **policy's** choice among the shortlist: the best-fitting eligible items, scored by the
   bandit on the statistics :mod:`~personalization.decisions.gathering` read.

Each item is rendered as it is placed (:mod:`~personalization.decisions.rendering`): one that
fails to render passes its place to the next candidate, and an item placed in one slot is not
offered to the next. Nothing is written here; the A/B exposure is counted by the log stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from content_pool.models import ContentItem
from personalization.decisions.bandit_state import ArmStats
from personalization.decisions.eligibility import Eligibility
from personalization.decisions.gathering import Gathered, SlotCandidates
from personalization.decisions.models import DecisionRequest, ScoredItem
from personalization.decisions.parts import DeciderOptions, DeciderParts
from personalization.decisions.rendering import Rendering, scored

_LOGGED_CANDIDATES = 20


@dataclass(frozen=True, slots=True)
class Placed:
    """A rendered item in a slot, with the prior CTR its showing adds to the bandit."""

    scored: ScoredItem
    item: ContentItem
    prior: float = 0.0


@dataclass(frozen=True, slots=True)
class SlotPlacement:
    """The items of one slot and their decision-log entries.

    ``ok`` is ``False`` when the slot was filled on less than it should have been (statistics
    unavailable, an item that failed to render). ``exposure`` is the ``(test, variant index)``
    of an A/B test whose variant is shown, to be counted.
    """

    placed: tuple[Placed, ...]
    record: list[dict[str, Any]]
    ok: bool = True
    exposure: tuple[Any, int] | None = None

    @property
    def tested(self) -> bool:
        """Whether an explicit rule or an A/B test chose the items (the bandit learns nothing)."""
        return any(entry.get("abtest") or entry.get("pinned") for entry in self.record)


@dataclass(frozen=True, slots=True)
class Placement:
    """What every slot shows, in the order the slots were asked."""

    slots: Mapping[str, SlotPlacement]

    @property
    def ok(self) -> bool:
        return all(slot.ok for slot in self.slots.values())

    def items(self) -> dict[str, list[ScoredItem]]:
        return {name: [p.scored for p in slot.placed] for name, slot in self.slots.items()}

    def records(self) -> dict[str, list[dict[str, Any]]]:
        return {name: slot.record for name, slot in self.slots.items()}


@dataclass(frozen=True, slots=True)
class _Slot:
    """One slot being placed: its name, candidates, what is still eligible, and the request."""

    name: str
    candidates: SlotCandidates
    eligible: np.ndarray
    used: frozenset[str]
    request: DecisionRequest
    now: datetime


def place(
    parts: DeciderParts,
    options: DeciderOptions,
    request: DecisionRequest,
    gathered: Gathered,
    now: datetime,
    pinned: Mapping[str, tuple[str, str]],
) -> Placement:
    """Fill every slot of ``request``; ``pinned`` maps a slot to ``(item_id, reason)``."""
    rendering = Rendering(parts.renderer, gathered.context, parts.sensitivity)
    used: set[str] = set()
    slots: dict[str, SlotPlacement] = {}
    for name in request.slots:
        candidates = gathered.candidates[name]
        slot = _Slot(name, candidates, _without(candidates, used), frozenset(used), request, now)
        slots[name] = _place_slot(parts, options, slot, gathered, rendering, pinned.get(name))
        used.update(p.scored.item_id for p in slots[name].placed)
    return Placement(slots)


def _without(candidates: SlotCandidates, used: set[str]) -> np.ndarray:
    """The eligible rows minus the items earlier slots placed."""
    eligible = candidates.eligible.copy()
    for item_id in used:
        row = candidates.features.row_of.get(item_id)
        if row is not None:
            eligible[row] = False
    return eligible


def _place_slot(
    parts: DeciderParts,
    options: DeciderOptions,
    slot: _Slot,
    gathered: Gathered,
    rendering: Rendering,
    pinned: tuple[str, str] | None,
) -> SlotPlacement:
    if pinned is not None:
        item = parts.pool.get(pinned[0])
        rendered = rendering.render(item) if item is not None else None
        if item is not None and rendered is not None:
            return SlotPlacement(
                (Placed(scored(item, rendered, 0.0, 1.0, [pinned[1]]), item),),
                [{"item_id": item.id, "propensity": 1.0, "pinned": True}],
            )
    variant = gathered.variants.get(slot.name)
    if variant is not None:
        tested = _tested(variant, slot, rendering)
        if tested is not None:
            return tested
    if gathered.control or not slot.eligible.any():
        return _defaults(parts, slot, gathered, rendering)
    return _chosen(parts, options, slot, gathered, rendering)


def _tested(variant: tuple[Any, int], slot: _Slot, rendering: Rendering) -> SlotPlacement | None:
    """The variant of the A/B test running on the slot, instead of the bandit's choice.

    A test and the bandit never share a slot unnoticed: while a test runs, the person's
    sticky variant is shown (when eligible), the reason says so, the showing is logged with
    the test and not fed to the bandit. An ineligible variant falls back to the bandit.
    """
    test, index = variant
    chosen = test.variants[index]
    features = slot.candidates.features
    row = {item.id: row for row, item in enumerate(features.items)}.get(chosen.item_id)
    if row is None or not slot.eligible[row]:
        return None
    item = features.items[row]
    rendered = rendering.render(item)
    if rendered is None:
        return None
    reason = f"A/B test {test.id}: variant {chosen.name} (sticky for this visitor)"
    return SlotPlacement(
        (Placed(scored(item, rendered, 0.0, float(chosen.share), [reason]), item),),
        [{"item_id": item.id, "propensity": float(chosen.share), "abtest": test.id,
          "variant": chosen.name}],
        exposure=variant,
    )  # fmt: skip


def _defaults(
    parts: DeciderParts, slot: _Slot, gathered: Gathered, rendering: Rendering
) -> SlotPlacement:
    reason = (
        "crawler: the slot's default" if gathered.crawler
        else "control group: the slot's default" if gathered.control
        else "no eligible item: the slot's default"
    )  # fmt: skip
    context = gathered.context
    defaults = parts.pool.defaults(slot.name, context.language, slot.request.channel, slot.now)
    kept, _ = Eligibility(parts.pool).filter(
        defaults, context, now=slot.now, caps=gathered.caps, used=set(slot.used),
        audience=gathered.audience,
    )  # fmt: skip
    placed: list[Placed] = []
    for item in kept[: slot.request.items_per_slot]:
        rendered = rendering.render(item)
        if rendered is not None:
            placed.append(Placed(scored(item, rendered, 0.0, 1.0, [reason]), item))
    record = [{"item_id": p.scored.item_id, "propensity": 1.0, "default": True} for p in placed]
    return SlotPlacement(tuple(placed), record)


def _chosen(
    parts: DeciderParts,
    options: DeciderOptions,
    slot: _Slot,
    gathered: Gathered,
    rendering: Rendering,
) -> SlotPlacement:
    """The policy's ranking of the shortlist, rendered until the slot is full."""
    all_terms, all_fit = slot.candidates.terms, slot.candidates.fit
    assert all_terms is not None and all_fit is not None, "gather ranks every open slot"
    rows = np.flatnonzero(slot.eligible)
    if len(rows) > options.shortlist:
        # Only the best-fitting items compete for the policy: their statistics are one
        # bounded read, whatever the size of the placement.
        rows = rows[np.argpartition(-all_fit[rows], options.shortlist - 1)[: options.shortlist]]
    terms, fit = all_terms[rows], all_fit[rows]
    prior = parts.ranker.weights.prior_ctr(fit)
    items = [slot.candidates.features.items[int(r)] for r in rows]
    ids = [item.id for item in items]
    stats = gathered.stats.arms(ids) if gathered.stats is not None else ArmStats.empty(len(ids))
    ok = not gathered.stats_failed
    choice = parts.policy.predict(prior, stats)
    placed: list[Placed] = []
    for j in choice.order:
        if len(placed) == slot.request.items_per_slot:
            break
        item = items[j]
        rendered = rendering.render(item)
        if rendered is None:
            ok = False
            continue
        reasons = parts.ranker.explain(item, terms[j], gathered.context)
        reasons.append(f"fit {fit[j]:.2f} -> prior CTR {prior[j]:.3f}")
        reasons.append(
            f"learned: x{choice.learned[j]:.2f} from {stats.item_clicks[j]:.0f} clicks in "
            f"{stats.served[j]:.0f} showings, context {gathered.bandit_context}; "
            f"{parts.policy.config.name} score {choice.scores[j]:.3f}"
        )
        shown = scored(item, rendered, float(choice.scores[j]), float(choice.propensity[j]),
                       reasons)  # fmt: skip
        placed.append(Placed(shown, item, float(prior[j])))
    record: list[dict[str, Any]] = [
        {"item_id": p.scored.item_id, "propensity": p.scored.propensity, "prior": p.prior,
         "position": position} for position, p in enumerate(placed)
    ]  # fmt: skip
    if record:
        top = np.argsort(-choice.propensity, kind="stable")[:_LOGGED_CANDIDATES]
        record[0]["candidates"] = [
            [ids[j], round(float(prior[j]), 6), round(float(choice.propensity[j]), 6)]
            for j in top
            if choice.propensity[j] > 0
        ]
    return SlotPlacement(tuple(placed), record, ok)
