"""Phase and micro-moment: the text's fine-grained distribution fused with situation evidence.

The rule (log-linear, stated once, applied to each axis separately)::

    p(c) ∝ p_text(c) ^ text_weight · Π_i exp(scale · w_i · [evidence i names c])

``p_text(c)`` is the in-scope intent probability summed per phase (or moment). Evidence that
names no class on this axis changes nothing; evidence naming a class multiplies its odds by
``exp(scale · w)`` (``w = 1`` → ×2.7). Every factor appears in the reasons, and a fused best
class below ``min_confidence`` is answered as ``unknown``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from intent.catalog import AXES, UNKNOWN, Axis

_FLOOR = 1e-4  # keeps a class that the text rules out reachable by strong evidence


class EvidenceLike(Protocol):
    """The shape of ``intent.situation.Evidence`` that fusion relies on."""

    @property
    def name(self) -> str: ...
    @property
    def phase(self) -> str | None: ...
    @property
    def moment(self) -> str | None: ...
    @property
    def weight(self) -> float: ...


class SituationLike(Protocol):
    """Anything with an ``evidence`` iterable (``intent.situation.Situation`` qualifies)."""

    @property
    def evidence(self) -> Iterable[EvidenceLike]: ...


@dataclass(frozen=True)
class Fused:
    """The fused answer on one axis, the full distribution and the reasons in words."""

    name: str
    confidence: float
    distribution: dict[str, float]
    reasons: list[str]


def fuse(
    text_distribution: Mapping[str, float],
    evidence: Iterable[EvidenceLike],
    axis: Axis,
    *,
    text_weight: float = 1.0,
    scale: float = 1.0,
    min_confidence: float = 0.4,
) -> Fused:
    """Fuse ``text_distribution`` (over ``AXES[axis]``) with the evidence naming that axis.

    With no text signal (all zeros, e.g. out-of-scope text) only the evidence counts, starting
    from a uniform prior.

    >>> fused = fuse({"use": 0.6, "consider": 0.4}, [], "phase")
    >>> fused.name, round(fused.confidence, 2)
    ('use', 0.6)
    """
    labels = AXES[axis]
    total = sum(max(text_distribution.get(c, 0.0), 0.0) for c in labels)
    has_text = total > 0.0
    log_scores: dict[str, float] = {}
    for c in labels:
        p = text_distribution.get(c, 0.0) / total if has_text else 1.0 / len(labels)
        log_scores[c] = (text_weight if has_text else 1.0) * math.log(max(p, _FLOOR))
    reasons: list[str] = []
    if has_text:
        top = max(labels, key=lambda c: text_distribution.get(c, 0.0))
        reasons.append(f"{axis}: the text points to {top} ({text_distribution[top] / total:.2f})")
    for item in evidence:
        target = item.phase if axis == "phase" else item.moment
        if target is None or target not in log_scores or item.weight <= 0.0:
            continue
        boost = scale * item.weight
        log_scores[target] += boost
        odds = math.exp(boost)
        reasons.append(
            f"{axis}: situation evidence '{item.name}' favours {target} (odds ×{odds:.2f})"
        )
    peak = max(log_scores.values())
    exp_scores = {c: math.exp(s - peak) for c, s in log_scores.items()}
    norm = sum(exp_scores.values())
    distribution = {c: exp_scores[c] / norm for c in labels}
    best = max(labels, key=lambda c: distribution[c])
    confidence = distribution[best]
    if not has_text and len(reasons) == 0:
        return Fused(UNKNOWN, 0.0, distribution, [f"{axis}: no signal from text or situation"])
    if confidence < min_confidence:
        reasons.append(
            f"{axis}: best is {best} at {confidence:.2f}, below {min_confidence:.2f} → unknown"
        )
        return Fused(UNKNOWN, confidence, distribution, reasons)
    return Fused(best, confidence, distribution, reasons)
