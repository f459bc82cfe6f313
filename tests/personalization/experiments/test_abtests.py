"""A/B tests: sticky assignment, honest statistics on seeded simulations, every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from personalization.clock import FrozenClock
from personalization.errors import ABTestConflict, ABTestNotFound, InvalidABTest
from personalization.experiments.abresults import analyse
from personalization.experiments.abstats import msprt, required_sample_size, wilson_interval, z_test
from personalization.experiments.abtest import ABTestFields, assign
from personalization.experiments.abtests import ABTests
from personalization.experiments.definitions import MemoryDefinitions, RedisDefinitions
from tests.conftest import Backend
from tests.factories import make_store

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def fields(**overrides: Any) -> ABTestFields:
    data: dict[str, Any] = {
        "slot": "hero",
        "variants": [
            {"name": "a", "item_id": "hero-classic", "share": 0.5},
            {"name": "b", "item_id": "hero-bold", "share": 0.5},
        ],
        "goal": "click",
    }
    data.update(overrides)
    return ABTestFields.model_validate(data)


# -- assignment -----------------------------------------------------------------------------------
def test_assignment_is_sticky_and_follows_the_shares() -> None:
    shares = [0.2, 0.3, 0.5]
    people = [f"person-{i}" for i in range(20_000)]
    first = [assign("t1", p, shares) for p in people]
    assert first == [assign("t1", p, shares) for p in people]
    observed = np.bincount(first, minlength=3) / len(people)
    assert np.allclose(observed, shares, atol=0.015)
    # Another test shuffles people independently of this one.
    other = [assign("t2", p, [0.5, 0.5]) for p in people]
    both = sum(1 for a, b in zip(first, other, strict=True) if a == 2 and b == 1)
    assert abs(both / len(people) - 0.25) < 0.015


# -- statistics on seeded simulations -------------------------------------------------------------
def test_required_sample_size_matches_the_textbook_formula() -> None:
    assert required_sample_size(0.10, 0.5) == 686  # 10 % -> 15 %, alpha .05, power .8
    assert required_sample_size(0.10, 0.5, comparisons=2) > 686
    assert required_sample_size(0.10, 0.25) > 2 * required_sample_size(0.10, 0.5)


@pytest.mark.parametrize("rate", [0.02, 0.1, 0.4])
def test_the_rate_interval_covers_the_true_rate_at_the_nominal_level(rate: float) -> None:
    rng = np.random.default_rng(20260601)
    n = 400
    conversions = rng.binomial(n, rate, size=3000)
    covered = np.mean([lo <= rate <= hi for lo, hi in (wilson_interval(int(c), n)
                                                       for c in conversions)])
    assert 0.93 <= covered <= 0.975


def _streams(rng: np.random.Generator, sims: int, n: int, rate0: float, rate1: float
             ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    return (np.cumsum(rng.random((sims, n)) < rate0, axis=1),
            np.cumsum(rng.random((sims, n)) < rate1, axis=1))  # fmt: skip


def test_peeking_at_the_sequential_test_keeps_false_positives_below_alpha() -> None:
    rng = np.random.default_rng(7)
    sims, n, every = 400, 3000, 50
    c0, c1 = _streams(rng, sims, n, 0.05, 0.05)
    sequential = naive = 0
    for s in range(sims):
        peeks = range(every, n + 1, every)
        sequential += any(
            (msprt(int(c0[s, k - 1]), k, int(c1[s, k - 1]), k, tau=0.01).p_value or 1) <= 0.05
            for k in peeks
        )
        naive += any(
            (z_test(int(c0[s, k - 1]), k, int(c1[s, k - 1]), k).p_value or 1) <= 0.05
            for k in peeks
        )
    assert sequential / sims <= 0.05 + 0.025  # alpha plus two standard errors of 400 runs
    assert naive / sims >= 0.15  # stopping a fixed-sample test when it looks good cheats


def test_the_sequential_test_finds_a_real_lift_and_its_interval_covers_it_throughout() -> None:
    rng = np.random.default_rng(11)
    sims, n, every = 150, 6000, 100
    rate0, rate1 = 0.05, 0.075
    c0, c1 = _streams(rng, sims, n, rate0, rate1)
    found = covered = 0
    for s in range(sims):
        hit, inside = False, True
        for k in range(every, n + 1, every):
            result = msprt(int(c0[s, k - 1]), k, int(c1[s, k - 1]), k, tau=0.01)
            hit = hit or (result.p_value or 1) <= 0.05
            inside = inside and result.low <= rate1 - rate0 <= result.high
        found += hit
        covered += inside
    assert found / sims >= 0.8
    assert covered / sims >= 0.95 - 0.035  # a confidence *sequence*: valid at every look


def test_a_fixed_horizon_gives_no_verdict_before_the_planned_sample() -> None:
    from personalization.experiments.abtest import ABTest

    test = ABTest(id="t", created_at=T0, status="running", required_per_variant=686,
                  **fields(stop_rule="fixed_horizon", baseline_rate=0.1,
                           minimum_effect=0.5).model_dump())  # fmt: skip
    early = analyse(test, [(300, 20), (300, 60)])
    assert not early.decided and early.comparisons[0].p_value is None
    assert "no verdict before the horizon" in early.verdict
    done = analyse(test, [(686, 69), (690, 104)])
    assert done.decided and done.comparisons[0].significant
    assert done.comparisons[0].p_value is not None and done.comparisons[0].p_value < 0.05
    assert done.variants[1].ci_low < 104 / 690 < done.variants[1].ci_high


# -- the service on every backend -----------------------------------------------------------------
def make_tests(backend: Backend, clock: FrozenClock) -> tuple[ABTests, Any]:
    store = make_store(backend, clock=clock)
    definitions = (MemoryDefinitions() if backend.redis is None
                   else RedisDefinitions(backend.redis, backend.prefix))  # fmt: skip
    return ABTests(definitions, counters=store, records=store, clock=clock), store


async def test_a_running_test_owns_its_slot_and_counts_people_once(backend: Backend) -> None:
    clock = FrozenClock(T0)
    tests, store = make_tests(backend, clock)
    await tests.put("hero-2026", fields())
    assert await tests.override_for("hero", "p1", T0) is None  # a draft does not run
    await tests.start("hero-2026")
    override = await tests.override_for("hero", "p1", T0)
    assert override is not None
    item_id, reason = override
    assert item_id in {"hero-classic", "hero-bold"}
    assert "A/B test hero-2026" in reason and "bandit" in reason
    for _ in range(3):
        assert await tests.override_for("hero", "p1", T0) == override
    assert await tests.override_for("sidebar", "p1", T0) is None
    variant = "a" if item_id == "hero-classic" else "b"
    assert await store.get_personal_counters("p1", "ab") == {f"hero-2026:{variant}:exposed": 4.0}
    assert await tests.record_goal("p1", "click", T0, item_id="some-other-item") == []
    assert await tests.record_goal("p1", "click", T0, item_id=item_id) == ["hero-2026"]
    assert await tests.record_goal("p1", "click", T0, item_id=item_id) == []
    assert await tests.record_goal("never-exposed", "click", T0) == []
    results = await tests.results("hero-2026")
    by_name = {v.name: (v.participants, v.conversions) for v in results.variants}
    assert by_name[variant] == (1, 1) and sum(n for n, _ in by_name.values()) == 1
    await store.erase("p1")
    assert await store.get_personal_counters("p1", "ab") == {}


async def test_two_tests_never_run_on_one_slot_and_running_tests_are_frozen(
    backend: Backend,
) -> None:
    tests, _ = make_tests(backend, FrozenClock(T0))
    await tests.put("first", fields())
    await tests.put("second", fields(variants=[
        {"name": "x", "item_id": "hero-x", "share": 0.7},
        {"name": "y", "item_id": "hero-y", "share": 0.3},
    ]))  # fmt: skip
    await tests.start("first")
    with pytest.raises(ABTestConflict, match="already runs on slot 'hero'"):
        await tests.start("second")
    with pytest.raises(ABTestConflict, match="only a draft"):
        await tests.put("first", fields())
    with pytest.raises(ABTestConflict, match="running"):
        await tests.delete("first")
    await tests.stop("first")
    await tests.start("second")
    assert (await tests.get("first")).stop_reason == "stopped by a marketer"
    await tests.delete("first")
    with pytest.raises(ABTestNotFound):
        await tests.get("first")


async def test_a_sequential_test_stops_itself_when_the_winner_is_clear() -> None:
    clock = FrozenClock(T0)
    tests, _ = make_tests(Backend("memory", None, "x"), clock)
    await tests.put("bold", fields(tau=0.05))
    await tests.start("bold")
    rng = np.random.default_rng(3)
    rates = {"hero-classic": 0.05, "hero-bold": 0.25}
    for i in range(600):
        override = await tests.override_for("hero", f"v{i}", clock())
        if override is None:
            break
        if rng.random() < rates[override.item_id]:
            await tests.record_goal(f"v{i}", "click", clock(), item_id=override.item_id)
        clock.advance(seconds=1)
    test = await tests.get("bold")
    assert test.status == "stopped" and test.stop_reason is not None
    assert "b beats the control" in test.stop_reason
    assert await tests.override_for("hero", "someone-new", clock()) is None  # the bandit's again


def test_definitions_are_validated() -> None:
    with pytest.raises(ValidationError, match="add up to 1"):
        fields(variants=[{"name": "a", "item_id": "i1", "share": 0.5},
                         {"name": "b", "item_id": "i2", "share": 0.3}])  # fmt: skip
    with pytest.raises(ValidationError, match="distinct"):
        fields(variants=[{"name": "a", "item_id": "i1", "share": 0.5},
                         {"name": "a", "item_id": "i2", "share": 0.5}])  # fmt: skip
    with pytest.raises(ValidationError):
        fields(variants=[{"name": "a", "item_id": "i1", "share": 1.0}])


async def test_bad_ids_are_refused() -> None:
    tests, _ = make_tests(Backend("memory", None, "x"), FrozenClock(T0))
    with pytest.raises(InvalidABTest):
        await tests.put("Not OK", fields())
    assert (await tests.put("ok", fields(stop_rule="fixed_horizon"))).required_per_variant == (
        required_sample_size(0.05, 0.2)
    )


async def test_purchases_reported_as_events_are_conversions_of_the_tests_people_saw() -> None:
    from personalization.profiles.event_parsing import parse_event
    from personalization.profiles.service import ProfileService
    from personalization.store.memory_store import MemoryStore

    clock = FrozenClock(T0)
    store = MemoryStore(clock=clock)
    tests = ABTests(MemoryDefinitions(), counters=store, records=store, clock=clock)
    await tests.put("checkout", fields(goal="conversion"))
    await tests.start("checkout")
    profiles = ProfileService(store, clock=clock)
    profiles.add_listener(tests)
    shown = await tests.override_for("hero", "buyer", T0)
    assert shown is not None
    purchase = {"type": "purchase", "profile_id": "buyer", "properties": {
        "order_id": "o1", "value": 10.0, "currency": "EUR",
        "items": [{"product_id": "x", "category": "boots"}]}}  # fmt: skip
    await profiles.ingest([parse_event({"event_id": "e1", **purchase})])
    await profiles.ingest([parse_event({"event_id": "e2", **purchase, "profile_id": "stranger"})])
    await profiles.ingest([parse_event({"event_id": "e3", **purchase})])  # once per person
    results = await tests.results("checkout")
    assert sorted((v.participants, v.conversions) for v in results.variants) == [(0, 0), (1, 1)]
