"""Lifecycle stages and RFM scores, from purchase history and a frozen threshold policy.

Stages (DOMAIN.md): ``anonymous`` (no known id), ``prospect`` (known, never bought),
``new_customer`` (first order recently), ``active``, ``loyal`` (many orders), ``at_risk`` (no order
for a while), ``lapsed`` (no order for long). :func:`stage_for` is pure; the reducer in
:mod:`personalization.profiles.profile` records each change as a transition with its time and
reason.

>>> from datetime import UTC, datetime, timedelta
>>> now = datetime(2026, 6, 1, tzinfo=UTC)
>>> stage_for(anonymous=False, orders=1, first_order_at=now - timedelta(days=3),
...           last_order_at=now - timedelta(days=3), now=now, policy=LifecyclePolicy())
(<Stage.new_customer: 'new_customer'>, 'first order 3d ago')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Stage(StrEnum):
    anonymous = "anonymous"
    prospect = "prospect"
    new_customer = "new_customer"
    active = "active"
    loyal = "loyal"
    at_risk = "at_risk"
    lapsed = "lapsed"


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """Thresholds of the lifecycle stages and of the RFM scores (1 = weakest, 5 = strongest).

    Raises ``ValueError`` when the thresholds contradict each other.
    """

    new_customer_days: int = 30
    active_min_orders: int = 2
    loyal_min_orders: int = 5
    at_risk_days: int = 90
    lapsed_days: int = 365
    recency_days: tuple[int, int, int, int] = (14, 30, 90, 180)
    """Days since the last order under which R is 5, 4, 3, 2 (older: 1)."""
    frequency_orders: tuple[int, int, int, int] = (2, 3, 5, 10)
    """Orders from which F is 2, 3, 4, 5."""
    monetary_values: tuple[float, float, float, float] = (50.0, 150.0, 500.0, 1500.0)
    """Revenue from which M is 2, 3, 4, 5."""

    def __post_init__(self) -> None:
        if not 1 <= self.active_min_orders <= self.loyal_min_orders:
            raise ValueError("need 1 <= active_min_orders <= loyal_min_orders")
        if not 0 < self.at_risk_days < self.lapsed_days:
            raise ValueError("need 0 < at_risk_days < lapsed_days")
        if self.new_customer_days < 0:
            raise ValueError("new_customer_days must not be negative")
        for name in ("recency_days", "frequency_orders", "monetary_values"):
            steps = getattr(self, name)
            if list(steps) != sorted(steps):
                raise ValueError(f"{name} must be ascending")


def _days(since: datetime, now: datetime) -> float:
    return max(0.0, (now - since) / timedelta(days=1))


def stage_for(
    *,
    anonymous: bool,
    orders: int,
    first_order_at: datetime | None,
    last_order_at: datetime | None,
    now: datetime,
    policy: LifecyclePolicy,
) -> tuple[Stage, str]:
    """The stage a person is in at ``now``, and the reason in a few words."""
    if orders <= 0 or last_order_at is None or first_order_at is None:
        return (Stage.anonymous, "no known id") if anonymous else (Stage.prospect, "no order yet")
    silent = _days(last_order_at, now)
    if silent > policy.lapsed_days:
        return Stage.lapsed, f"no order for {silent:.0f}d"
    if silent > policy.at_risk_days:
        return Stage.at_risk, f"no order for {silent:.0f}d"
    if orders >= policy.loyal_min_orders:
        return Stage.loyal, f"{orders} orders"
    if orders >= policy.active_min_orders:
        return Stage.active, f"{orders} orders"
    since_first = _days(first_order_at, now)
    if since_first <= policy.new_customer_days:
        return Stage.new_customer, f"first order {since_first:.0f}d ago"
    return Stage.active, f"first order {since_first:.0f}d ago"


def stage_reached_at(
    stage: Stage, *, last_order_at: datetime | None, now: datetime, policy: LifecyclePolicy
) -> datetime:
    """When a person who is in ``stage`` at ``now`` got there, as far as the events tell.

    ``at_risk`` and ``lapsed`` are reached by silence: the day the last order was
    ``at_risk_days`` (``lapsed_days``) old, which for an order reported months late is long
    before ``now``. Other stages are reached when they are noticed (``now``).
    """
    days = {Stage.at_risk: policy.at_risk_days, Stage.lapsed: policy.lapsed_days}.get(stage)
    if days is None or last_order_at is None:
        return now
    return min(now, last_order_at + timedelta(days=days))


@dataclass(frozen=True, slots=True)
class RfmScores:
    recency: int
    frequency: int
    monetary: int

    @property
    def code(self) -> str:
        """The classic three-digit segment code, e.g. ``"545"``."""
        return f"{self.recency}{self.frequency}{self.monetary}"


def rfm_scores(
    *, orders: int, revenue: float, last_order_at: datetime | None, now: datetime,
    policy: LifecyclePolicy,
) -> RfmScores | None:
    """RFM scores 1–5 at ``now``; ``None`` for someone who never ordered."""
    if orders <= 0 or last_order_at is None:
        return None
    days = _days(last_order_at, now)
    recency = 5 - sum(days >= limit for limit in policy.recency_days)
    frequency = 1 + sum(orders >= limit for limit in policy.frequency_orders)
    monetary = 1 + sum(revenue >= limit for limit in policy.monetary_values)
    return RfmScores(recency, frequency, monetary)
