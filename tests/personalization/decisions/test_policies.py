"""Bandit policies: configuration, registry, propensities, exploration bounds, learning."""

from __future__ import annotations

import numpy as np
import pytest

from personalization.decisions.policies import (
    POLICIES,
    ArmStats,
    BanditState,
    EpsilonGreedy,
    ThompsonSampling,
    create_rng,
    make_policy,
)
from personalization.store.memory_store import MemoryStore


def stats(clicks: list[float], expected: list[float]) -> ArmStats:
    c, e = np.asarray(clicks, dtype=float), np.asarray(expected, dtype=float)
    return ArmStats(served=e * 10, expected=e, clicks=c, item_expected=e, item_clicks=c)


def test_registry_builds_each_policy_by_name() -> None:
    for name in POLICIES:
        policy = make_policy(name, create_rng(0))
        assert policy.config.name == name
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("ucb9")
    with pytest.raises(ValueError, match="bad options"):
        make_policy("thompson", nonsense=1)


@pytest.mark.parametrize(
    "build",
    [lambda: ThompsonSampling(top_k=0), lambda: ThompsonSampling(prior_strength=0),
     lambda: ThompsonSampling(context_features=("weather",)),
     lambda: EpsilonGreedy(epsilon=0.9), lambda: ThompsonSampling(propensity_draws=2),
     lambda: ThompsonSampling(exploration=0), lambda: ThompsonSampling(exploration=1.5),
     lambda: ThompsonSampling(explore_clicks=0)],
)  # fmt: skip
def test_invalid_configurations_are_refused(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_thompson_is_reproducible_with_a_seed() -> None:
    prior = np.asarray([0.05, 0.06, 0.04])
    s = stats([3, 1, 0], [2, 2, 1])
    a = make_policy("thompson", create_rng(42)).predict(prior, s)
    b = make_policy("thompson", create_rng(42)).predict(prior, s)
    assert list(a.order) == list(b.order)
    assert np.allclose(a.propensity, b.propensity)


def test_thompson_propensities_are_a_distribution_over_the_explored_set() -> None:
    prior = np.full(10, 0.05)
    s = stats([0] * 10, [0] * 10)
    choice = make_policy(ThompsonSampling(top_k=4), create_rng(1)).predict(prior, s)
    assert choice.propensity.sum() == pytest.approx(1.0)
    assert (choice.propensity > 0).sum() == 4  # exploration is bounded to top_k
    assert choice.propensity[choice.order[0]] > 0


def test_less_exploration_shows_the_best_mean_more_often_and_keeps_others_possible() -> None:
    prior = np.asarray([0.10, 0.09, 0.05])
    s = stats([0, 0, 0], [0, 0, 0])
    wide = make_policy(ThompsonSampling(exploration=1.0), create_rng(3)).predict(prior, s)
    narrow = make_policy(ThompsonSampling(exploration=0.5), create_rng(3)).predict(prior, s)
    assert narrow.propensity[0] > wide.propensity[0]
    assert narrow.propensity[1] > 0.05  # the close second is still explored
    assert narrow.propensity.sum() == pytest.approx(1.0)
    assert np.allclose(narrow.learned, wide.learned)  # same posterior means


def test_a_well_known_context_explores_less_with_explore_clicks() -> None:
    prior = np.asarray([0.10, 0.09, 0.05])
    fresh = stats([0, 0, 0], [0, 0, 0])
    known = stats([100, 90, 50], [100, 90, 50])  # 240 clicks, each item as its prior said
    fixed = ThompsonSampling(explore_clicks=None)
    decaying = ThompsonSampling(explore_clicks=60)
    # Without evidence in the context both explore the same.
    assert np.allclose(make_policy(fixed, create_rng(5)).predict(prior, fresh).propensity,
                       make_policy(decaying, create_rng(5)).predict(prior, fresh).propensity)
    steady = make_policy(fixed, create_rng(5)).predict(prior, known)
    exploiting = make_policy(decaying, create_rng(5)).predict(prior, known)
    assert exploiting.propensity[0] > steady.propensity[0] + 0.05
    assert exploiting.propensity.sum() == pytest.approx(1.0)
    assert np.allclose(exploiting.learned, steady.learned)  # same posterior means


def test_evidence_moves_the_choice_against_the_prior() -> None:
    prior = np.asarray([0.10, 0.05])
    evidence = stats([2, 60], [40, 20])  # item 0 underdelivers, item 1 triples its prior
    policy = make_policy("greedy")
    assert list(policy.predict_expectations(prior, ArmStats.empty(2))) == list(prior)
    means = policy.predict_expectations(prior, evidence)
    assert means[1] > means[0]
    assert policy.predict(prior, evidence).order[0] == 1


def test_epsilon_greedy_propensity_is_exact() -> None:
    prior = np.asarray([0.1, 0.05, 0.02])
    choice = make_policy(EpsilonGreedy(epsilon=0.3, top_k=3), create_rng(0)).predict(
        prior, ArmStats.empty(3)
    )
    assert list(choice.propensity) == pytest.approx([0.8, 0.1, 0.1])


async def test_state_is_shared_through_the_counters() -> None:
    store = MemoryStore()
    writer, reader = BanditState(store), BanditState(store)
    await writer.partial_fit("a", "consider|buy", served=1, expected=0.05)
    await writer.partial_fit("a", "consider|buy", reward=1)
    await writer.partial_fit("a", "explore|know", served=1, expected=0.02)
    s = await reader.load(["a", "b"], "consider|buy")
    assert s.clicks.tolist() == [[1, 0]] and s.expected[0][0] == pytest.approx(0.05)
    assert list(s.served) == [2, 0]  # over all contexts
    assert s.item_expected[0] == pytest.approx(0.07)
    assert list(s.item_clicks) == [1, 0]


async def test_factorised_contexts_keep_one_statistic_per_feature_value() -> None:
    store = MemoryStore()
    state = BanditState(store)
    await state.partial_fit("a", "phase=consider&device=mobile", served=1, expected=0.05)
    await state.partial_fit("a", "phase=consider&device=desktop", served=1, expected=0.03)
    await state.partial_fit("a", "phase=consider&device=desktop", reward=1)
    s = await state.load(["a"], "phase=consider&device=desktop")
    assert s.expected[:, 0] == pytest.approx([0.08, 0.03])  # phase=consider, device=desktop
    assert s.clicks[:, 0].tolist() == [1, 1]
    policy = make_policy("greedy")
    assert policy.predict_expectations(np.asarray([0.05]), s)[0] > 0.05


def test_a_seeded_simulation_learns_the_better_arm() -> None:
    rng = np.random.default_rng(5)
    policy = make_policy(ThompsonSampling(), create_rng(5))
    truth = np.asarray([0.04, 0.12, 0.06])
    prior = np.full(3, 0.06)
    clicks, expected = np.zeros(3), np.zeros(3)
    picks = []
    for _ in range(1500):
        s = ArmStats(served=expected, expected=expected, clicks=clicks,
                     item_expected=expected, item_clicks=clicks)  # fmt: skip
        arm = int(policy.predict(prior, s).order[0])
        picks.append(arm)
        expected[arm] += prior[arm]
        clicks[arm] += rng.random() < truth[arm]
    assert picks[:300].count(1) < picks[-300:].count(1)
    assert picks[-300:].count(1) / 300 > 0.7
