"""Lifecycle stages and RFM scores from the threshold policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from personalization.profiles.lifecycle import LifecyclePolicy, Stage, rfm_scores, stage_for

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICY = LifecyclePolicy(new_customer_days=30, active_min_orders=2, loyal_min_orders=4,
                         at_risk_days=60, lapsed_days=200)


def _stage(orders: int, first_days: float, last_days: float, anonymous: bool = False) -> Stage:
    stage, _ = stage_for(anonymous=anonymous, orders=orders,
                         first_order_at=NOW - timedelta(days=first_days) if orders else None,
                         last_order_at=NOW - timedelta(days=last_days) if orders else None,
                         now=NOW, policy=POLICY)
    return stage


@pytest.mark.parametrize(("orders", "first", "last", "anonymous", "expected"), [
    (0, 0, 0, True, Stage.anonymous),
    (0, 0, 0, False, Stage.prospect),
    (1, 5, 5, False, Stage.new_customer),
    (1, 40, 40, False, Stage.active),
    (2, 50, 3, False, Stage.active),
    (4, 100, 3, False, Stage.loyal),
    (4, 300, 61, False, Stage.at_risk),
    (1, 300, 201, False, Stage.lapsed),
    (1, 5, 5, True, Stage.new_customer),
])
def test_stage_thresholds(orders: int, first: float, last: float, anonymous: bool,
                          expected: Stage) -> None:
    assert _stage(orders, first, last, anonymous) == expected


def test_rfm_scores() -> None:
    assert rfm_scores(orders=0, revenue=0, last_order_at=None, now=NOW, policy=POLICY) is None
    best = rfm_scores(orders=12, revenue=2000, last_order_at=NOW - timedelta(days=1), now=NOW,
                      policy=POLICY)
    worst = rfm_scores(orders=1, revenue=10, last_order_at=NOW - timedelta(days=400), now=NOW,
                       policy=POLICY)
    assert best is not None and best.code == "555"
    assert worst is not None and worst.code == "111"


def test_contradicting_thresholds_are_refused() -> None:
    with pytest.raises(ValueError):
        LifecyclePolicy(at_risk_days=400, lapsed_days=365)
    with pytest.raises(ValueError):
        LifecyclePolicy(active_min_orders=6, loyal_min_orders=5)
