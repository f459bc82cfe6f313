"""Results of an A/B test: rates with intervals, comparisons with the control, and a verdict.

:func:`analyse` is pure: the test and ``(participants, conversions)`` per variant in, results out.
The statistics themselves are in :mod:`personalization.experiments.abstats`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from personalization.experiments.abstats import Comparison, msprt, wilson_interval, z_test
from personalization.experiments.abtest import ABTest, Status, StopRule


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class VariantResult(_Model):
    name: str
    item_id: str
    share: float
    participants: int
    conversions: int
    rate: float | None
    ci_low: float
    ci_high: float


class ComparisonResult(_Model):
    variant: str
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    significant: bool


class ABTestResults(_Model):
    test_id: str
    status: Status
    stop_rule: StopRule
    method: str
    goal: str
    required_per_variant: int | None
    variants: list[VariantResult]
    comparisons: list[ComparisonResult]
    decided: bool
    """The stop rule is met: the comparisons are final."""
    verdict: str


def analyse(test: ABTest, counts: Sequence[tuple[int, int]]) -> ABTestResults:
    """Results of ``test`` from ``(participants, conversions)`` per variant (pure)."""
    alpha = test.alpha
    variants = []
    for variant, (n, c) in zip(test.variants, counts, strict=True):
        low, high = wilson_interval(c, n, alpha)
        variants.append(VariantResult(
            name=variant.name, item_id=variant.item_id, share=variant.share, participants=n,
            conversions=c, rate=c / n if n else None, ci_low=low, ci_high=high,
        ))  # fmt: skip
    if test.stop_rule == "fixed_horizon":
        return _fixed_horizon(test, counts, variants)
    return _sequential(test, counts, variants)


def _fixed_horizon(
    test: ABTest, counts: Sequence[tuple[int, int]], variants: list[VariantResult]
) -> ABTestResults:
    """No p-value and no verdict before every variant reached the planned sample size."""
    alpha = test.alpha
    per_comparison = alpha / max(1, test.comparisons)
    n0, c0 = counts[0]
    comparisons: list[ComparisonResult] = []
    horizon = test.required_per_variant or test.horizon() or 0
    decided = all(n >= horizon for n, _ in counts)
    method = (f"fixed horizon: {horizon} participants per variant, two-sided z-test at "
              f"alpha {alpha:g} (Bonferroni over {test.comparisons})")  # fmt: skip
    for variant, (n1, c1) in zip(test.variants[1:], counts[1:], strict=True):
        if not decided or n0 == 0 or n1 == 0:
            comparisons.append(ComparisonResult(variant=variant.name, difference=None,
                                                ci_low=None, ci_high=None, p_value=None,
                                                significant=False))  # fmt: skip
            continue
        result = z_test(c0, n0, c1, n1, alpha=per_comparison)
        comparisons.append(_comparison(variant.name, result, per_comparison))
    if decided:
        verdict = _verdict(comparisons, "at the planned sample size")
    else:
        least = min(n for n, _ in counts)
        verdict = (f"running: {least} of {horizon} participants in the smallest variant; no "
                   "verdict before the horizon (looking early would bias it)")  # fmt: skip
    return ABTestResults(
        test_id=test.id, status=test.status, stop_rule=test.stop_rule, method=method,
        goal=test.goal, required_per_variant=horizon, variants=variants,
        comparisons=comparisons, decided=decided, verdict=verdict,
    )  # fmt: skip


def _sequential(
    test: ABTest, counts: Sequence[tuple[int, int]], variants: list[VariantResult]
) -> ABTestResults:
    """mSPRT: always-valid p-values, decided at the first significant look or at the cap."""
    alpha = test.alpha
    per_comparison = alpha / max(1, test.comparisons)
    n0, c0 = counts[0]
    comparisons: list[ComparisonResult] = []
    tau = test.mixing_sd
    method = (f"sequential mSPRT (tau {tau:.4g}): always-valid p-values and intervals at alpha "
              f"{alpha:g} (Bonferroni over {test.comparisons}); safe to look at any time")
    for variant, (n1, c1) in zip(test.variants[1:], counts[1:], strict=True):
        comparisons.append(
            _comparison(variant.name, msprt(c0, n0, c1, n1, tau=tau, alpha=per_comparison),
                        per_comparison)
        )  # fmt: skip
    significant = any(c.significant for c in comparisons)
    capped = test.max_participants is not None and all(
        n >= test.max_participants for n, _ in counts
    )
    decided = significant or capped
    if significant:
        verdict = _verdict(comparisons, "by the sequential test")
    elif capped:
        verdict = (f"inconclusive: {test.max_participants} participants per variant reached "
                   "without a significant difference")  # fmt: skip
    else:
        verdict = "running: no significant difference yet"
    return ABTestResults(
        test_id=test.id, status=test.status, stop_rule=test.stop_rule, method=method,
        goal=test.goal, required_per_variant=None, variants=variants, comparisons=comparisons,
        decided=decided, verdict=verdict,
    )  # fmt: skip


def _comparison(name: str, result: Comparison, alpha: float) -> ComparisonResult:
    p = result.p_value
    return ComparisonResult(
        variant=name, difference=result.difference, ci_low=result.low, ci_high=result.high,
        p_value=p, significant=p is not None and p <= alpha,
    )  # fmt: skip


def _verdict(comparisons: Sequence[ComparisonResult], how: str) -> str:
    winners = [c for c in comparisons if c.significant]
    if not winners:
        return f"no significant difference {how}"
    parts = [
        f"{c.variant} {'beats' if (c.difference or 0) > 0 else 'loses to'} the control "
        f"({(c.difference or 0):+.4f}, p={c.p_value:.3g})"
        for c in winners
    ]
    return "; ".join(parts) + f" {how}"
