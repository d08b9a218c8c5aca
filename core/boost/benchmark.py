"""The sign rate a boost has to beat, learned from this instance's past boosts.

Only stage-1 outcomes are used: stage 1 mails a uniform random sample to every candidate, so its
sign rate is an unbiased look at the petition, while later stages exist only for the petitions
that did well (their rates would push the benchmark up by survivorship).

Petitions differ far more than sampling noise, so the benchmark is not just the pooled rate: it is
the population of petitions, a Beta(alpha, beta) fitted by the method of moments, whose mean is
the rate to beat and which doubles as the prior for a new petition's rate (empirical Bayes). The
moments are the mean of the stage-1 rates and their variance minus the part binomial noise
explains. With little history both moments are shrunk toward a default (policy.default_rate with
the spread of policy.default_strength deliveries), which counts as policy.default_boosts past
boosts: a young instance starts from a sensible prior and its own history takes over as it grows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.boost.policy import DEFAULT_POLICY, BoostPolicy

__all__ = ["Benchmark", "PastBoost", "default_benchmark", "fit_benchmark"]

# A fitted population narrower than this many deliveries' worth would let the prior outweigh a
# whole stage; wider than this minimum would make a single signature swing the decision.
_MIN_STRENGTH = 2.0
_MAX_STRENGTH = 5000.0


@dataclass(frozen=True)
class PastBoost:
    """Stage 1 of a past boost: deliveries and the signatures its window brought."""

    deliveries: int
    signatures: int


@dataclass(frozen=True)
class Benchmark:
    """The rate to beat and the prior Beta(alpha, beta) for a petition's sign rate."""

    rate: float
    alpha: float
    beta: float
    boosts: int

    @property
    def strength(self) -> float:
        return self.alpha + self.beta

    def as_log(self) -> dict[str, float | int]:
        return {"rate": self.rate, "alpha": self.alpha, "beta": self.beta, "boosts": self.boosts}


def default_benchmark(policy: BoostPolicy = DEFAULT_POLICY) -> Benchmark:
    """The benchmark an instance with no boost history starts from."""
    return _from_moments(policy.default_rate, _default_variance(policy), boosts=0)


def fit_benchmark(history: Iterable[PastBoost], policy: BoostPolicy = DEFAULT_POLICY) -> Benchmark:
    """The benchmark learned from past boosts' stage-1 outcomes, shrunk toward the default."""
    rates: list[float] = []
    inverse_deliveries: list[float] = []
    for past in history:
        if past.deliveries <= 0:
            continue
        signatures = min(max(past.signatures, 0), past.deliveries)
        rates.append(signatures / past.deliveries)
        inverse_deliveries.append(1.0 / past.deliveries)
    k = len(rates)
    if k == 0:
        return default_benchmark(policy)

    mean = sum(rates) / k
    mean_weight = k / (k + policy.default_boosts)
    blended_mean = mean_weight * mean + (1.0 - mean_weight) * policy.default_rate
    if k >= 2:
        observed_variance = sum((r - mean) ** 2 for r in rates) / (k - 1)
        noise = mean * (1.0 - mean) * sum(inverse_deliveries) / k
        between = max(observed_variance - noise, 0.0)
        variance_weight = (k - 1) / (k - 1 + policy.default_boosts)
    else:
        between, variance_weight = 0.0, 0.0
    blended_variance = variance_weight * between + (1.0 - variance_weight) * _default_variance(policy)
    return _from_moments(blended_mean, blended_variance, boosts=k)


def _default_variance(policy: BoostPolicy) -> float:
    m = policy.default_rate
    return m * (1.0 - m) / (policy.default_strength + 1.0)


def _from_moments(mean: float, variance: float, boosts: int) -> Benchmark:
    mean = min(max(mean, 1e-6), 1.0 - 1e-6)
    # Beta moments: variance = m(1 − m)/(n + 1), so n = m(1 − m)/variance − 1.
    strength = mean * (1.0 - mean) / variance - 1.0 if variance > 0.0 else _MAX_STRENGTH
    strength = min(max(strength, _MIN_STRENGTH), _MAX_STRENGTH)
    return Benchmark(rate=mean, alpha=mean * strength, beta=(1.0 - mean) * strength, boosts=boosts)
