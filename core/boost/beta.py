"""The Beta distribution's tail, computed exactly enough to log.

A boost decision quotes P(rate > benchmark) to staff and leaders, so the number must be the same
every time it is computed: no Monte Carlo. It is 1 − I_x(a, b), the regularized incomplete beta
function, evaluated by its continued fraction with the modified Lentz method (Numerical Recipes
§6.4, `betai`/`betacf`), in pure Python because SciPy is not a dependency. The fraction
converges fast for x < (a + 1)/(a + b + 2); above that the symmetry I_x(a, b) = 1 − I_{1−x}(b, a)
is used, so it takes O(√max(a, b)) terms even for boosts with a million deliveries.
"""

from __future__ import annotations

import math

__all__ = ["beta_mean", "probability_above", "regularized_incomplete_beta"]

_MAX_TERMS = 100_000
_EPSILON = 1e-15
_TINY = 1e-300


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b): the probability that a Beta(a, b) variable is at most x."""
    if not (a > 0.0 and b > 0.0):
        raise ValueError(f"Beta parameters must be positive (got a={a}, b={b})")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1] (got {x})")
    if x == 0.0:
        return 0.0
    if x == 1.0:
        return 1.0
    # The prefactor x^a (1−x)^b / (a B(a, b)), in logarithms so large a, b do not overflow.
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _continued_fraction(b, a, 1.0 - x) / b


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction for I_x(a, b), by the modified Lentz method."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_TERMS + 1):
        m2 = 2 * m
        # Even step.
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        # Odd step.
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPSILON:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def probability_above(alpha: float, beta: float, threshold: float) -> float:
    """P(θ > threshold) for θ ~ Beta(alpha, beta), clamped to [0, 1] against rounding."""
    if threshold <= 0.0:
        return 1.0
    if threshold >= 1.0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - regularized_incomplete_beta(alpha, beta, threshold)))


def beta_mean(alpha: float, beta: float) -> float:
    return alpha / (alpha + beta)
