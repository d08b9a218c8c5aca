"""The sampler: a uniformly random subset of the eligible members, by probing random ids
(with gaps in the id space and ineligible members in between) or, when eligible members are
rare, by one scan — never fewer than asked while enough are eligible, never anyone twice."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from core.boost.sampling import Caps, Scope, count_remaining, sample_eligible
from core.people.tables import Person
from tests.core.boost_runner.conftest import members, signed_petition

CAPS = Caps(now=datetime.now(UTC), gap_days=1, weekly_cap=0)


async def test_sampling_is_uniform_over_eligible_members_despite_gaps_and_ineligible_neighbours():
    petition = await signed_petition(signers=20)
    eligible = await members(40)
    blocked = await members(60, prefix="noconsent", consent_instance_email=False)
    # Holes in the id space: a run of deleted members right before some eligible ones.
    await Person.delete().where(Person.id.is_in(blocked[:30]))
    scope = Scope(petition, "national", "")
    assert await count_remaining(scope) == 40

    rng = random.Random(5)
    picks: Counter[int] = Counter()
    for _ in range(400):
        sample = await sample_eligible(scope, 10, CAPS, rng)
        assert len(sample.ids) == len(set(sample.ids)) == 10
        assert set(sample.ids) <= set(eligible)
        picks.update(sample.ids)
    # 4,000 picks over 40 members: 100 each expected; a chi-square far beyond chance fails.
    chi2 = sum((picks[pid] - 100) ** 2 / 100 for pid in eligible)
    assert chi2 < 80, chi2  # 39 degrees of freedom: P(chi2 > 80) < 0.0001


async def test_rare_eligible_members_are_found_by_one_scan_and_an_exhausted_audience_gives_fewer():
    petition = await signed_petition(signers=20)
    await members(500, prefix="elsewhere", region="NY")
    local = set(await members(7, prefix="local", region="VT"))
    scope = Scope(petition, "region", "VT")

    sample = await sample_eligible(scope, 5, CAPS, random.Random(1))
    assert len(sample.ids) == 5 and set(sample.ids) <= local and sample.scanned

    everyone = await sample_eligible(scope, 50, CAPS, random.Random(2))
    assert set(everyone.ids) == local


async def test_a_sample_from_an_empty_table_or_of_nobody_is_empty():
    scope = Scope(1, "national", "")
    assert (await sample_eligible(scope, 10, CAPS, random.Random(1))).ids == []
    assert (await sample_eligible(scope, 0, CAPS, random.Random(1))).ids == []


async def test_postal_and_district_scopes_select_their_members():
    petition = await signed_petition(signers=20)
    inside = set(await members(5, prefix="ab1", postal_code="AB1 2CD"))
    await members(5, prefix="zz9", postal_code="ZZ9 9ZZ")
    district = set(await members(4, prefix="d7", district="Ward 7"))

    postal = await sample_eligible(Scope(petition, "postal", "ab1"), 20, CAPS, random.Random(3))
    assert set(postal.ids) == inside
    ward = await sample_eligible(Scope(petition, "district", "Ward 7"), 20, CAPS, random.Random(3))
    assert set(ward.ids) == district
