"""The statistics of A/B tests, pure functions on counts.

- :func:`wilson_interval`: the interval of one rate;
- :func:`required_sample_size`: participants per variant of a fixed-horizon test (two-sided
  two-proportion z-test, Bonferroni over the comparisons);
- :func:`z_test`: the fixed-sample comparison, valid only at the planned sample size;
- :func:`msprt`: the mixture sequential probability ratio test (Johari et al. 2017) with its
  always-valid p-value and confidence sequence, valid at any time and any number of looks.

Their behaviour on seeded simulations (coverage, false positives under continuous peeking, power)
is tested in ``tests/personalization/experiments/test_abtests.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()


def _z(alpha: float) -> float:
    return _NORMAL.inv_cdf(1 - alpha / 2)


def wilson_interval(conversions: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided ``1 - alpha`` Wilson score interval of a rate; ``(0, 1)`` when ``n == 0``."""
    if n <= 0:
        return 0.0, 1.0
    z = _z(alpha)
    p = conversions / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def required_sample_size(
    baseline: float, minimum_effect: float, *, alpha: float = 0.05, power: float = 0.8,
    comparisons: int = 1,
) -> int:  # fmt: skip
    """Participants per variant for a two-sided two-proportion z-test.

    ``minimum_effect`` is relative (0.1 = a 10 % lift over ``baseline``); alpha is split over
    ``comparisons`` (Bonferroni).

    >>> required_sample_size(0.05, 0.2)
    8158
    """
    assert 0 < baseline < 1 and minimum_effect > 0 and 0 < alpha < 1 and 0 < power < 1
    treated = min(baseline * (1 + minimum_effect), 0.999999)
    pooled = (baseline + treated) / 2
    z_alpha = _z(alpha / max(1, comparisons))
    z_power = _NORMAL.inv_cdf(power)
    root = z_alpha * math.sqrt(2 * pooled * (1 - pooled)) + z_power * math.sqrt(
        baseline * (1 - baseline) + treated * (1 - treated)
    )
    return math.ceil(root * root / (treated - baseline) ** 2)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A variant against the control: difference of rates, its interval and p-value."""

    variant: str
    difference: float
    low: float
    high: float
    p_value: float | None


def _variance(c0: int, n0: int, c1: int, n1: int) -> float:
    p0, p1 = c0 / n0, c1 / n1
    return p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1


def z_test(c0: int, n0: int, c1: int, n1: int, *, alpha: float = 0.05) -> Comparison:
    """Fixed-sample comparison (valid only at the planned sample size): Wald interval of the
    difference and the two-sided pooled z-test p-value."""
    assert n0 > 0 and n1 > 0
    difference = c1 / n1 - c0 / n0
    half = _z(alpha) * math.sqrt(_variance(c0, n0, c1, n1))
    pooled = (c0 + c1) / (n0 + n1)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
    p_value = 1.0 if se == 0 else 2 * (1 - _NORMAL.cdf(abs(difference) / se))
    return Comparison("", difference, difference - half, difference + half, p_value)


def msprt(
    c0: int, n0: int, c1: int, n1: int, *, tau: float, alpha: float = 0.05
) -> Comparison:
    """Always-valid p-value and ``1 - alpha`` confidence sequence for the difference of rates.

    mSPRT with a ``N(0, tau^2)`` mixture over the difference and the plug-in variance ``V`` of
    the estimate ``d``: ``Lambda = sqrt(V / (V + tau^2)) * exp(d^2 tau^2 / (2 V (V + tau^2)))``,
    ``p = min(1, 1 / Lambda)``; the interval is every difference the test would not reject:
    ``d +- sqrt(V (V + tau^2) / tau^2 * (log((V + tau^2) / V) - 2 log alpha))``.
    """
    assert tau > 0 and 0 < alpha < 1
    if n0 == 0 or n1 == 0:
        return Comparison("", 0.0, -1.0, 1.0, 1.0)
    difference = c1 / n1 - c0 / n0
    variance = _variance(c0, n0, c1, n1)
    if variance <= 0:  # no conversions (or all) on both sides yet: nothing to learn
        return Comparison("", difference, -1.0, 1.0, 1.0)
    t2 = tau * tau
    log_lambda = 0.5 * math.log(variance / (variance + t2)) + difference**2 * t2 / (
        2 * variance * (variance + t2)
    )
    p_value = 1.0 if log_lambda <= 0 else math.exp(-log_lambda)
    half = math.sqrt(
        variance * (variance + t2) / t2
        * (math.log((variance + t2) / variance) - 2 * math.log(alpha))
    )
    return Comparison("", difference, difference - half, difference + half, min(1.0, p_value))
