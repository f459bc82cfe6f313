from __future__ import annotations

from dataclasses import dataclass

import pytest

from intent.catalog import UNKNOWN
from intent.fusion import fuse


@dataclass(frozen=True)
class Ev:
    name: str
    phase: str | None
    moment: str | None
    weight: float
    detail: str = ""


def test_text_only_keeps_the_text_distribution() -> None:
    fused = fuse({"use": 0.7, "consider": 0.3}, [], "phase")
    assert fused.name == "use"
    assert fused.confidence == pytest.approx(0.7, abs=1e-3)
    assert fused.reasons == ["phase: the text points to use (0.70)"]


def test_evidence_multiplies_the_odds_and_is_explained() -> None:
    text = {"consider": 0.45, "purchase": 0.55}
    fused = fuse(text, [Ev("search_medium", "consider", None, 1.0)], "phase")
    # odds consider:purchase become 0.45·e : 0.55
    expected = 0.45 * 2.718281828 / (0.45 * 2.718281828 + 0.55)
    assert fused.name == "consider"
    assert fused.confidence == pytest.approx(expected, abs=1e-3)
    assert any("search_medium" in r and "consider" in r and "×2.72" in r for r in fused.reasons)


def test_evidence_for_the_other_axis_is_ignored() -> None:
    text = {"know": 0.6, "buy": 0.4}
    fused = fuse(
        text, [Ev("device_mobile", None, None, 1.0), Ev("cart", "purchase", None, 1.0)], "moment"
    )
    assert fused.name == "know"
    assert len(fused.reasons) == 1


def test_low_fused_confidence_is_unknown_with_the_reason() -> None:
    text = {"know": 0.3, "buy": 0.3, "do": 0.4}
    fused = fuse(text, [], "moment", min_confidence=0.5)
    assert fused.name == UNKNOWN
    assert "below 0.50" in fused.reasons[-1]


def test_no_text_signal_uses_evidence_alone() -> None:
    assert fuse({}, [], "phase").name == UNKNOWN
    fused = fuse(
        {},
        [Ev("cart", "purchase", None, 1.0), Ev("checkout", "purchase", None, 1.0)],
        "phase",
        min_confidence=0.3,
    )
    assert fused.name == "purchase"
