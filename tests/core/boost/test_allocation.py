"""Sharing the daily budget by Thompson sampling: reproducible, and the better petitions get more."""

import random

import pytest

from core.boost import Candidate, allocate, default_benchmark

BENCHMARK = default_benchmark()


def emails(allocations):
    return {a.key: a.emails for a in allocations}


def test_the_same_seed_gives_the_same_allocation_whatever_the_order():
    candidates = [
        Candidate(1, signatures=30, deliveries=1_000, requested=8_000, available=90_000),
        Candidate(2, signatures=45, deliveries=1_000, requested=8_000, available=90_000),
        Candidate(3, signatures=40, deliveries=1_000, requested=8_000, available=90_000),
    ]
    first = allocate(candidates, 10_000, BENCHMARK, random.Random(42))
    again = allocate(list(reversed(candidates)), 10_000, BENCHMARK, random.Random(42))
    assert first == again
    other = allocate(candidates, 10_000, BENCHMARK, random.Random(43))
    assert emails(other) != emails(first)


def test_a_clearly_better_petition_takes_most_of_the_budget():
    candidates = [
        Candidate(1, signatures=80, deliveries=1_000, requested=20_000, available=90_000),
        Candidate(2, signatures=20, deliveries=1_000, requested=20_000, available=90_000),
    ]
    shares = emails(allocate(candidates, 5_000, BENCHMARK, random.Random(1)))
    assert shares[1] >= 4_900
    assert shares[1] + shares[2] == 5_000


def test_close_petitions_share_and_the_better_one_gets_more_on_average():
    candidates = [
        Candidate(1, signatures=45, deliveries=1_000, requested=50_000, available=90_000),
        Candidate(2, signatures=40, deliveries=1_000, requested=50_000, available=90_000),
    ]
    totals = {1: 0, 2: 0}
    for seed in range(20):
        for key, count in emails(allocate(candidates, 10_000, BENCHMARK, random.Random(seed))).items():
            totals[key] += count
    assert totals[1] > totals[2] > 0


def test_no_candidate_gets_more_than_its_stage_or_its_audience():
    candidates = [
        Candidate(1, signatures=200, deliveries=1_000, requested=700, available=90_000),
        Candidate(2, signatures=150, deliveries=1_000, requested=5_000, available=1_200),
        Candidate(3, signatures=10, deliveries=1_000, requested=3_000, available=90_000),
    ]
    shares = emails(allocate(candidates, 100_000, BENCHMARK, random.Random(5)))
    assert shares == {1: 700, 2: 1_200, 3: 3_000}


def test_a_new_candidate_gets_its_first_sample_before_a_strong_petition_expands():
    candidates = [
        Candidate(1, signatures=1_000, deliveries=10_000, requested=40_000, available=90_000),
        Candidate(2, signatures=0, deliveries=0, requested=500, available=90_000),
    ]
    shares = emails(allocate(candidates, 3_000, BENCHMARK, random.Random(9)))
    assert shares == {1: 2_500, 2: 500}


def test_turbocharged_candidates_are_served_first():
    candidates = [
        Candidate(1, signatures=100, deliveries=1_000, requested=5_000, available=90_000),
        Candidate(2, signatures=5, deliveries=1_000, requested=2_000, available=90_000, turbocharged=True),
    ]
    shares = emails(allocate(candidates, 3_000, BENCHMARK, random.Random(3)))
    assert shares == {1: 1_000, 2: 2_000}


def test_no_budget_means_no_emails_and_idle_candidates_are_left_out():
    candidates = [
        Candidate(1, signatures=10, deliveries=500, requested=2_000, available=90_000),
        Candidate(2, signatures=10, deliveries=500, requested=0, available=90_000),
    ]
    assert emails(allocate(candidates, 0, BENCHMARK, random.Random(0))) == {1: 0}


def test_keys_must_be_unique():
    candidate = Candidate(1, signatures=0, deliveries=0, requested=500, available=500)
    with pytest.raises(ValueError):
        allocate([candidate, candidate], 1_000, BENCHMARK, random.Random(0))
