"""The benchmark: a sensible default on a new instance, the instance's own history as it grows."""

import random

import pytest

from core.boost import BoostPolicy, PastBoost, default_benchmark, fit_benchmark


def simulated_history(count, alpha, beta, deliveries, seed):
    rng = random.Random(seed)
    history = []
    for _ in range(count):
        rate = rng.betavariate(alpha, beta)
        history.append(PastBoost(deliveries, sum(rng.random() < rate for _ in range(deliveries))))
    return history


def variance(benchmark):
    a, b = benchmark.alpha, benchmark.beta
    return a * b / ((a + b) ** 2 * (a + b + 1))


def test_an_instance_without_history_uses_the_default_prior():
    benchmark = fit_benchmark([])
    assert benchmark == default_benchmark()
    assert benchmark.rate == pytest.approx(0.03)
    assert (benchmark.alpha, benchmark.beta) == pytest.approx((6.0, 194.0))
    assert benchmark.boosts == 0


def test_one_past_boost_moves_the_benchmark_only_a_little():
    benchmark = fit_benchmark([PastBoost(deliveries=500, signatures=50)])
    assert benchmark.rate == pytest.approx((0.10 + 10 * 0.03) / 11)
    # One boost says nothing about how petitions differ: the spread stays the default's.
    assert variance(benchmark) == pytest.approx(variance(default_benchmark()))
    assert benchmark.boosts == 1


def test_a_long_history_is_learned():
    history = simulated_history(400, alpha=2.0, beta=48.0, deliveries=500, seed=7)
    benchmark = fit_benchmark(history)
    assert benchmark.rate == pytest.approx(0.04, abs=0.004)
    # Beta(2, 48): 50 deliveries' worth; the default of 200 barely counts after 400 boosts.
    assert 30 < benchmark.strength < 75
    assert benchmark.boosts == 400


def test_sampling_noise_is_not_taken_for_differences_between_petitions():
    rng = random.Random(11)
    same = [PastBoost(500, sum(rng.random() < 0.05 for _ in range(500))) for _ in range(200)]
    benchmark = fit_benchmark(same)
    assert benchmark.rate == pytest.approx(0.05, abs=0.005)
    assert benchmark.strength > 2 * default_benchmark().strength


def test_boosts_without_deliveries_are_ignored():
    assert fit_benchmark([PastBoost(0, 0), PastBoost(0, 3)]) == default_benchmark()


def test_the_default_follows_the_policy():
    policy = BoostPolicy(default_rate=0.05, default_strength=100.0)
    benchmark = default_benchmark(policy)
    assert benchmark.rate == pytest.approx(0.05)
    assert benchmark.strength == pytest.approx(100.0)
