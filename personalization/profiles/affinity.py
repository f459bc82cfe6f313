"""Interest affinities that fade: a score per category or topic, halved every ``half_life``.

A profile keeps the scores as they were at one reference time ``at``; reading them at ``now``
decays them lazily (``score * 0.5 ** ((now - at) / half_life)``), so nothing has to run while a
person is away. An event at time ``t`` adds ``weight(type)`` decayed from ``t`` to ``at``; because
decay is exponential, the result does not depend on the order the events arrive in, which makes
replays (identity merges, retries) exact.

What conditions, segments and the ranking read is the *level* of a score, on a documented 0-1
scale: ``level = 1 - exp(-score / saturation)`` (:func:`levels`). With the default weights and
``saturation = 8``: one page view gives 0.12, three product views 0.53, a purchase 0.63, and
``affinity("hiking") > 0.3`` means "clearly more than a passing look" (about three page views,
or one add-to-cart, in the last weeks).

>>> from datetime import UTC, datetime, timedelta
>>> policy = AffinityPolicy(half_life=timedelta(days=10))
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> scores, at = add({}, None, {"outdoor": 4.0}, t0, policy)
>>> round(decayed(scores, at, t0 + timedelta(days=10), policy)["outdoor"], 3)
2.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType({
    "page_view": 1.0,
    "product_view": 2.0,
    "search": 1.5,
    "add_to_cart": 4.0,
    "checkout_started": 2.0,
    "purchase": 8.0,
    "email_click": 2.0,
    "sms_click": 2.0,
    "push_open": 1.0,
    "chat_message": 2.0,
    "custom": 1.0,
})
"""Weight of one event of each type for the categories and topics it names."""


@dataclass(frozen=True, slots=True)
class AffinityPolicy:
    """How affinities are weighted, how fast they fade, and how many a profile keeps.

    Raises ``ValueError`` for a non-positive half-life, negative weights or ``max_labels < 1``.
    """

    half_life: timedelta = timedelta(days=30)
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    max_labels: int = 16
    floor: float = 0.01
    """Scores below this are forgotten."""
    saturation: float = 8.0
    """The score whose level is 1 - 1/e (0.63); see :func:`levels`."""

    def __post_init__(self) -> None:
        if self.half_life <= timedelta(0):
            raise ValueError("the affinity half-life must be positive")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("affinity weights must not be negative")
        if self.max_labels < 1:
            raise ValueError("max_labels must be at least 1")
        if self.saturation <= 0:
            raise ValueError("the affinity saturation must be positive")

    def weight(self, event_type: str) -> float:
        return self.weights.get(event_type, 0.0)


def _factor(from_: datetime, to: datetime, policy: AffinityPolicy) -> float:
    return float(0.5 ** ((to - from_) / policy.half_life))


def decayed(
    scores: Mapping[str, float], at: datetime | None, now: datetime, policy: AffinityPolicy
) -> dict[str, float]:
    """The scores as of ``now``, highest first (never grown: a future ``at`` counts as now)."""
    if at is None or not scores:
        return {}
    factor = _factor(at, now, policy) if now > at else 1.0
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return {label: score * factor for label, score in ranked}


def levels(
    scores: Mapping[str, float], at: datetime | None, now: datetime, policy: AffinityPolicy
) -> dict[str, float]:
    """The scores as of ``now`` on the 0-1 scale, highest first.

    >>> from datetime import UTC, datetime
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> round(levels({"hiking": 8.0}, t0, t0, AffinityPolicy())["hiking"], 2)
    0.63
    """
    return {
        label: 1.0 - math.exp(-score / policy.saturation)
        for label, score in decayed(scores, at, now, policy).items()
    }


def add(
    scores: Mapping[str, float],
    at: datetime | None,
    contributions: Mapping[str, float],
    when: datetime,
    policy: AffinityPolicy,
) -> tuple[dict[str, float], datetime]:
    """Add ``contributions`` that happened at ``when``; returns the new scores and their time.

    The reference time moves forward to ``when`` if that is later (decaying the old scores),
    otherwise the contribution is decayed back to the reference time.
    """
    current = dict(scores)
    if at is None:
        at = when
    elif when > at:
        factor = _factor(at, when, policy)
        current = {label: score * factor for label, score in current.items()}
        at = when
    factor = _factor(when, at, policy)
    for label, amount in contributions.items():
        current[label] = current.get(label, 0.0) + amount * factor
    return current, at


def prune(scores: Mapping[str, float], policy: AffinityPolicy) -> dict[str, float]:
    """Keep the ``max_labels`` strongest scores above the floor, highest first."""
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return {label: s for label, s in ranked[: policy.max_labels] if s >= policy.floor}
