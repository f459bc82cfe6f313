"""The control group: stable per visitor, the configured share, reshuffled by the salt."""

from __future__ import annotations

import pytest

from personalization.decisions.holdout import Holdout


def test_membership_is_stable_and_shared_by_instances() -> None:
    ids = [f"visitor-{n}" for n in range(500)]
    first = [Holdout(0.2).in_control(i) for i in ids]
    again = [Holdout(0.2).in_control(i) for i in ids]
    assert first == again


@pytest.mark.parametrize("share", [0.0, 0.05, 0.1, 0.3, 0.5])
def test_the_share_is_what_was_configured(share: float) -> None:
    n = 20_000
    members = sum(Holdout(share).in_control(f"p{i}") for i in range(n))
    assert members / n == pytest.approx(share, abs=0.01)


def test_growing_the_share_keeps_everybody_who_was_in() -> None:
    ids = [f"p{i}" for i in range(2000)]
    small = {i for i in ids if Holdout(0.05).in_control(i)}
    large = {i for i in ids if Holdout(0.15).in_control(i)}
    assert small <= large


def test_a_new_salt_reshuffles() -> None:
    ids = [f"p{i}" for i in range(2000)]
    a = {i for i in ids if Holdout(0.5, salt="one").in_control(i)}
    b = {i for i in ids if Holdout(0.5, salt="two").in_control(i)}
    assert 0.3 < len(a & b) / len(a) < 0.7
