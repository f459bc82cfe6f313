"""Reports: CTR with Wilson intervals and uplift against the holdout, from the decision counters."""

from __future__ import annotations

import pytest

from personalization.decisions.decider import stats_key
from personalization.decisions.reports import content_report, difference_interval, wilson_interval
from personalization.store.memory_store import MemoryStore


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(5, 100)
    assert (round(low, 4), round(high, 4)) == (0.0215, 0.1118)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 50)
    assert low == 0.0 and 0 < high < 0.1  # no clicks still leaves an honest upper bound


def test_difference_interval_contains_the_difference_and_narrows_with_data() -> None:
    small = difference_interval(10, 100, 5, 100)
    large = difference_interval(1000, 10_000, 500, 10_000)
    assert small[0] < 0.05 < small[1]
    assert large[0] > 0  # a real uplift is detected with enough data
    assert large[1] - large[0] < small[1] - small[0]


async def test_report_by_item_slot_and_phase_moment_with_uplift() -> None:
    store = MemoryStore()
    counts = {
        ("hero", "hero-boots", "purchase", "buy", "treatment"): (400, 40, 4),
        ("hero", "hero-tents", "consider", "know", "treatment"): (200, 10, 0),
        ("hero", "hero-default", "purchase", "buy", "control"): (100, 4, 1),
        ("hero", "hero-default", "consider", "know", "control"): (100, 5, 0),
    }
    for (slot, item, phase, moment, group), (served, clicks, conversions) in counts.items():
        await store.incr(
            stats_key("stats", slot, item, phase, moment, group),
            {"served": served, "clicks": clicks, "conversions": conversions},
        )

    by_item = await content_report(store, group_by="item")
    boots = next(r for r in by_item.rows if r.key == "hero-boots")
    assert boots.treatment.ctr == pytest.approx(0.1)
    assert boots.treatment.ctr_low < 0.1 < boots.treatment.ctr_high
    assert boots.uplift is not None
    assert boots.uplift.baseline_ctr == pytest.approx(9 / 200)  # the slot's control group
    assert boots.uplift.absolute == pytest.approx(0.1 - 0.045)

    by_phase = await content_report(store, group_by="phase_moment")
    purchase = next(r for r in by_phase.rows if r.key == "purchase|buy")
    assert purchase.uplift is not None
    assert purchase.uplift.baseline_ctr == pytest.approx(0.04)
    assert purchase.uplift.low < purchase.uplift.absolute < purchase.uplift.high

    total = (await content_report(store, group_by="slot")).total
    assert (total.treatment.served, total.control.served) == (600, 200)
    assert total.treatment.conversions == 4
