"""The regularized incomplete beta, checked against values derived independently.

For whole a and b, I_x(a, b) = P(Binomial(a + b − 1, x) ≥ a): the tail is summed exactly with
fractions for small cases, and term by term in logarithms for large ones.
"""

import math
from fractions import Fraction

import pytest

from core.boost.beta import probability_above, regularized_incomplete_beta


def binomial_tail_exact(n: int, k: int, x: Fraction) -> Fraction:
    return sum((math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(k, n + 1)), Fraction(0))


def binomial_tail_logs(n: int, k: int, x: float) -> float:
    log_x, log_1x = math.log(x), math.log1p(-x)
    log_n = math.lgamma(n + 1)
    return math.fsum(
        math.exp(log_n - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * log_x + (n - j) * log_1x)
        for j in range(k, n + 1)
    )


@pytest.mark.parametrize(
    "a, b, x",
    [
        (1, 1, Fraction(3, 10)),
        (2, 3, Fraction(1, 4)),
        (5, 5, Fraction(1, 2)),
        (3, 40, Fraction(1, 20)),
        (10, 2, Fraction(9, 10)),
        (7, 193, Fraction(3, 100)),  # a default-prior posterior around the benchmark
        (47, 653, Fraction(4, 100)),
        (20, 480, Fraction(1, 25)),
        (1, 60, Fraction(1, 100)),
        (60, 1, Fraction(99, 100)),
    ],
)
def test_matches_the_exact_binomial_tail_for_whole_parameters(a, b, x):
    expected = binomial_tail_exact(a + b - 1, a, x)
    assert regularized_incomplete_beta(a, b, float(x)) == pytest.approx(float(expected), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    "a, b, x",
    [
        (300, 9_700, 0.03),
        (300, 9_700, 0.033),
        (1_230, 40_000, 0.03),
        (5_000, 95_000, 0.049),
    ],
)
def test_stays_accurate_for_boosts_with_tens_of_thousands_of_deliveries(a, b, x):
    expected = binomial_tail_logs(a + b - 1, a, x)
    assert regularized_incomplete_beta(a, b, x) == pytest.approx(expected, rel=1e-8, abs=1e-12)


def test_closed_forms_hold_for_fractional_parameters():
    for a in (0.5, 1.7, 6.0, 12.3):
        for x in (0.01, 0.2, 0.77):
            assert regularized_incomplete_beta(a, 1.0, x) == pytest.approx(x**a, rel=1e-12)
            assert regularized_incomplete_beta(1.0, a, x) == pytest.approx(1 - (1 - x) ** a, rel=1e-12)
    arcsine = 2 / math.pi * math.asin(0.5)  # Beta(1/2, 1/2) is the arcsine distribution
    assert regularized_incomplete_beta(0.5, 0.5, 0.25) == pytest.approx(arcsine, rel=1e-12)


def test_is_symmetric_and_reaches_its_bounds():
    assert regularized_incomplete_beta(4.5, 4.5, 0.5) == pytest.approx(0.5, abs=1e-14)
    a, b, x = 6.0, 194.0, 0.05
    assert regularized_incomplete_beta(a, b, x) == pytest.approx(1 - regularized_incomplete_beta(b, a, 1 - x))
    assert regularized_incomplete_beta(3.0, 4.0, 0.0) == 0.0
    assert regularized_incomplete_beta(3.0, 4.0, 1.0) == 1.0


def test_probability_above_is_the_upper_tail_and_stays_in_range():
    assert probability_above(1.0, 1.0, 0.3) == pytest.approx(0.7)
    assert probability_above(6.0, 194.0, 0.0) == 1.0
    assert probability_above(6.0, 194.0, 1.0) == 0.0
    tails = [probability_above(6.0 + s, 194.0 + 500 - s, 0.03) for s in range(0, 60, 5)]
    assert tails == sorted(tails)
    assert all(0.0 <= t <= 1.0 for t in tails)


@pytest.mark.parametrize("a, b, x", [(0.0, 1.0, 0.5), (1.0, -2.0, 0.5), (1.0, 1.0, 1.5), (1.0, 1.0, -0.1)])
def test_refuses_parameters_outside_its_domain(a, b, x):
    with pytest.raises(ValueError):
        regularized_incomplete_beta(a, b, x)
