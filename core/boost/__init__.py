"""The boost engine: a petition that reaches its threshold gets a random member sample, and more
reach the better it does (DESIGN §4, docs/boost.md).

This package is the pure decision core — policy, benchmark, posterior decision, Thompson
allocation — with no database: the boost runner feeds it stage outcomes and sends what it says,
and bench/boost_sim.py runs the same functions against a simulated population.
"""

from core.boost.allocation import Allocation, Candidate, allocate
from core.boost.benchmark import Benchmark, PastBoost, default_benchmark, fit_benchmark
from core.boost.beta import probability_above, regularized_incomplete_beta
from core.boost.decision import (
    FINAL_ACTIONS,
    Action,
    Decision,
    StaffAction,
    StageOutcome,
    decide,
    staff_decision,
    start,
)
from core.boost.policy import DEFAULT_POLICY, BoostPolicy

__all__ = [
    "DEFAULT_POLICY",
    "FINAL_ACTIONS",
    "Action",
    "Allocation",
    "Benchmark",
    "BoostPolicy",
    "Candidate",
    "Decision",
    "PastBoost",
    "StaffAction",
    "StageOutcome",
    "allocate",
    "decide",
    "default_benchmark",
    "fit_benchmark",
    "probability_above",
    "regularized_incomplete_beta",
    "staff_decision",
    "start",
]
