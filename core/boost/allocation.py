"""Sharing the day's boost budget between candidates by Thompson sampling.

The budget is dealt out in slices (100 emails by default). For each slice every candidate that
still wants emails draws a sign rate from its posterior
Beta(alpha + signatures, beta + deliveries − signatures), and the slice goes to the highest
draw. So each candidate's share of the day is about its probability of being the best one: a
petition that has shown a high rate takes most of the reach, a middling one gets what the best
ones cannot use yet, and an uncertain one still wins a slice now and then. A candidate takes at
most what its stage still needs and its audience still holds.

Two groups are served before the rest, each still by draws within the group: turbocharged
candidates (staff asked for it), then candidates with nothing measured yet. A first sample is
small and is the only way the engine can learn about a petition; left to the draws it could wait
for weeks behind a petition with a high, well-measured rate, since a prior seldom draws that high.

The random generator is passed in and draws are taken in order of candidate key, so an
allocation is reproducible from its seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from core.boost.benchmark import Benchmark

__all__ = ["Allocation", "Candidate", "allocate"]


@dataclass(frozen=True)
class Candidate:
    """A boost that wants to send today.

    `signatures`/`deliveries` are totals of its closed stages (an open window would understate
    the rate); `requested` is what its current stage still has to send; `available` is the
    eligible audience not yet mailed.
    """

    key: int
    signatures: int
    deliveries: int
    requested: int
    available: int
    turbocharged: bool = False


@dataclass(frozen=True)
class Allocation:
    key: int
    emails: int
    draw: float  # the sampled sign rate that ranked it


def allocate(
    candidates: Sequence[Candidate],
    budget: int,
    benchmark: Benchmark,
    rng: random.Random,
    slice_size: int = 100,
) -> list[Allocation]:
    """Emails each candidate may send today, in key order; the sum is at most `budget`.

    Every candidate with something to send is listed, with 0 emails if it won nothing today;
    `draw` is its first draw of the day (what ranked it first).
    """
    keys = [c.key for c in candidates]
    if len(set(keys)) != len(keys):
        raise ValueError("candidate keys must be unique")
    if slice_size < 1:
        raise ValueError("slice_size must be at least 1")
    ordered = sorted(candidates, key=lambda c: c.key)
    wants = {c.key: max(min(c.requested, c.available), 0) for c in ordered}
    given = dict.fromkeys(wants, 0)
    first_draw: dict[int, float] = {}
    left = max(budget, 0)

    shapes = {c.key: _posterior(c, benchmark) for c in ordered}
    groups = (
        [c for c in ordered if c.turbocharged],
        [c for c in ordered if not c.turbocharged and c.deliveries <= 0],
        [c for c in ordered if not c.turbocharged and c.deliveries > 0],
    )
    for group in groups:
        while left > 0:
            best_key, best_draw = None, -1.0
            for candidate in group:
                if wants[candidate.key] <= 0:
                    continue
                alpha, beta = shapes[candidate.key]
                draw = rng.betavariate(alpha, beta)
                first_draw.setdefault(candidate.key, draw)
                if draw > best_draw:
                    best_key, best_draw = candidate.key, draw
            if best_key is None:
                break
            emails = min(slice_size, wants[best_key], left)
            given[best_key] += emails
            wants[best_key] -= emails
            left -= emails

    return [
        Allocation(key=c.key, emails=given[c.key], draw=first_draw.get(c.key, 0.0))
        for c in ordered
        if given[c.key] or min(c.requested, c.available) > 0
    ]


def _posterior(candidate: Candidate, benchmark: Benchmark) -> tuple[float, float]:
    signatures = min(max(candidate.signatures, 0), max(candidate.deliveries, 0))
    failures = max(candidate.deliveries - signatures, 0)
    return benchmark.alpha + signatures, benchmark.beta + failures
