"""Which items may be shown at all: the hard rules, before any scoring.

The pool's index already cuts by slot, channel, language, status and validity
(:meth:`content_pool.pool.ContentPool.eligible`); :class:`Eligibility` adds the rules that
depend on the request:

- **status and validity** again (the pool snapshot may be older than ``now``);
- **no item twice** across the slots of one page;
- **consent**: an item whose audience condition reads profile data (``profile.*`` or
  ``affinity(...)``) is never shown to a visitor without personalisation consent, so the mere
  choice of content cannot reveal what the profile holds;
- **targeting**: an item that names phases, moments or lifecycle stages is shown only when
  the visit's phase (moment, stage) is one of them; a phase or moment that is not known for this
  visit excludes nothing, and an item that says ``prefer`` is never excluded by them (they
  only rank it, see :mod:`personalization.decisions.ranking`). A visitor without a consented
  profile is ``anonymous``: after-purchase items for customers do not reach them;
- **audience condition** over situation, intent and (consented) profile;
- **frequency cap** per profile and day / ISO week, counted in the person's ``caps`` record.

Categories are never a filter: they meet the interest of the moment in the ranking.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from content_pool.models import MOMENTS, PHASES, ContentItem, Targeting
from content_pool.pool import ContentPool
from personalization.decisions.models import UNKNOWN, DecisionContext
from personalization.decisions.ranking import LIFECYCLE_STAGES, ItemFeatures

CAPS_PART = "caps"
CAPS_TTL = timedelta(days=8)
"""Cap counters outlive the longest period they count (a week)."""

_PROFILE_READ = re.compile(r"\bprofile\b|\baffinity\s*\(")


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Why an item was left out (for explanations and tests)."""

    item_id: str
    rule: str


def cap_fields(item_id: str, now: datetime) -> tuple[str, str]:
    """The names of the day and week counters of an item in the ``caps`` record."""
    year, week, _ = now.isocalendar()
    return f"{item_id}|d|{now:%Y-%m-%d}", f"{item_id}|w|{year}-W{week:02d}"


def targeting_excludes(targeting: Targeting, context: DecisionContext) -> str | None:
    """The targeting rule that keeps an item from this visit, or ``None``."""
    if targeting.prefer:
        return None
    if targeting.phases and context.phase != UNKNOWN and context.phase not in targeting.phases:
        return "phase"
    if (targeting.moments and context.moment != UNKNOWN
            and context.moment not in targeting.moments):  # fmt: skip
        return "moment"
    if targeting.lifecycle_stages and context.lifecycle not in targeting.lifecycle_stages:
        return "lifecycle stage"
    return None


def _targeting_mask(features: ItemFeatures, context: DecisionContext) -> np.ndarray:
    """:func:`targeting_excludes` for every row of ``features`` at once (True = allowed)."""
    allowed = np.ones(len(features.items), dtype=bool)
    if context.phase in PHASES:
        allowed &= features.phase_open | features.phases[:, PHASES.index(context.phase)]
    if context.moment in MOMENTS:
        allowed &= features.moment_open | features.moments[:, MOMENTS.index(context.moment)]
    if context.lifecycle in LIFECYCLE_STAGES:
        column = LIFECYCLE_STAGES.index(context.lifecycle)
        allowed &= features.stage_open | features.stages[:, column]
    result: np.ndarray = allowed | features.prefer
    return result


def reads_profile(item: ContentItem) -> bool:
    """Whether the item's audience condition looks at profile data."""
    audience = item.targeting.audience
    return bool(audience and _PROFILE_READ.search(audience))


class Eligibility:
    """Applies the hard rules to the candidates of one slot."""

    def __init__(self, pool: ContentPool) -> None:
        self._pool = pool

    def filter(
        self,
        items: Iterable[ContentItem],
        context: DecisionContext,
        *,
        now: datetime,
        caps: Mapping[str, float] | None = None,
        used: Sequence[str] | set[str] = (),
        audience: Mapping[str, object] | None = None,
    ) -> tuple[list[ContentItem], list[Exclusion]]:
        """Split ``items`` into the eligible ones (order kept) and the exclusions with reasons.

        ``caps`` are the person's cap counters (``cap_fields`` names); ``used`` ids are already
        placed on the page; ``audience`` is ``context.audience_context()``, passed in so it is
        built once per request.
        """
        audience_context = audience if audience is not None else context.audience_context()
        kept: list[ContentItem] = []
        excluded: list[Exclusion] = []
        for item in items:
            rule = self._violated(item, context, now, caps or {}, used, audience_context)
            if rule is None:
                kept.append(item)
            else:
                excluded.append(Exclusion(item.id, rule))
        return kept, excluded

    def mask(
        self,
        features: ItemFeatures,
        context: DecisionContext,
        *,
        now: datetime,
        caps: Mapping[str, float] | None = None,
        used: Sequence[str] | set[str] = (),
        audience: Mapping[str, object] | None = None,
    ) -> np.ndarray:
        """Which rows of a pool bucket's features are eligible, as a boolean array.

        The fast path of :meth:`filter` for the items :meth:`ContentPool.eligible` returned
        (already live, valid now and of the placement): only items with a request-dependent
        rule (``features.checked``) and items already on the page are looked at one by one.
        """
        keep = _targeting_mask(features, context)
        for item_id in used:
            row = features.row_of.get(item_id)
            if row is not None:
                keep[row] = False
        audience_context = audience if audience is not None else context.audience_context()
        for index in np.flatnonzero(features.checked & keep):
            item = features.items[int(index)]
            if self._violated(item, context, now, caps or {}, used, audience_context):
                keep[index] = False
        return keep

    def _violated(
        self,
        item: ContentItem,
        context: DecisionContext,
        now: datetime,
        caps: Mapping[str, float],
        used: Sequence[str] | set[str],
        audience: Mapping[str, object],
    ) -> str | None:
        if item.status != "live":
            return "status"
        if not item.valid_at(now):
            return "validity"
        if item.language != context.language:
            return "language"
        if context.channel is not None and item.channel != context.channel:
            return "channel"
        if item.id in used:
            return "already placed on the page"
        excluded_by = targeting_excludes(item.targeting, context)
        if excluded_by is not None:
            return excluded_by
        if context.profile is None and reads_profile(item):
            return "needs personalisation consent"
        if item.targeting.audience and not self._pool.audience_matches(item, audience):
            return "audience condition"
        cap = item.frequency_cap
        if cap.per_day is not None or cap.per_week is not None:
            day, week = cap_fields(item.id, now)
            if cap.per_day is not None and caps.get(day, 0.0) >= cap.per_day:
                return "frequency cap (day)"
            if cap.per_week is not None and caps.get(week, 0.0) >= cap.per_week:
                return "frequency cap (week)"
        return None
