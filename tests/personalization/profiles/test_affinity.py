"""Affinities: weighted by event type, halved every half-life, independent of arrival order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from personalization.profiles.affinity import AffinityPolicy, add, decayed, prune

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = AffinityPolicy(half_life=timedelta(days=10), max_labels=3)


def test_scores_halve_every_half_life_when_read() -> None:
    scores, at = add({}, None, {"outdoor": 8.0}, T0, POLICY)
    assert decayed(scores, at, T0, POLICY)["outdoor"] == pytest.approx(8.0)
    assert decayed(scores, at, T0 + timedelta(days=10), POLICY)["outdoor"] == pytest.approx(4.0)
    assert decayed(scores, at, T0 + timedelta(days=30), POLICY)["outdoor"] == pytest.approx(1.0)


def test_order_of_arrival_does_not_change_the_result() -> None:
    later = T0 + timedelta(days=5)
    a, at_a = add({}, None, {"x": 2.0}, T0, POLICY)
    a, at_a = add(a, at_a, {"x": 4.0, "y": 1.0}, later, POLICY)
    b, at_b = add({}, None, {"x": 4.0, "y": 1.0}, later, POLICY)
    b, at_b = add(b, at_b, {"x": 2.0}, T0, POLICY)
    now = T0 + timedelta(days=12)
    assert decayed(a, at_a, now, POLICY) == pytest.approx(decayed(b, at_b, now, POLICY))


def test_prune_keeps_the_strongest_above_the_floor() -> None:
    kept = prune({"a": 5, "b": 0.001, "c": 3, "d": 4, "e": 1}, POLICY)
    assert list(kept) == ["a", "d", "c"]


def test_policy_validates_itself() -> None:
    with pytest.raises(ValueError):
        AffinityPolicy(half_life=timedelta(0))
    with pytest.raises(ValueError):
        AffinityPolicy(weights={"purchase": -1.0})
