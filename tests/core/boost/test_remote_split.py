"""Pooled reach, the split: a stage is shared between this node and its reach partners in
proportion to eligible members, the parts add up to the stage, and a partner whose part would
be below k_min (it would refuse) is left out."""

from __future__ import annotations

from core.boost.remote import ReachPartner, split_stage


def partner(key: str, eligible: int) -> ReachPartner:
    return ReachPartner(key=key, label=f"https://{key}.example.org", eligible=eligible)


def test_a_stage_is_split_in_proportion_to_eligible_members():
    local, shares = split_stage(500, 1_000, [partner("a", 3_000), partner("b", 1_000)], k_min=10)
    assert (local, shares) == (100, {"a": 300, "b": 100})


def test_the_parts_always_add_up_to_the_stage():
    for size in (1, 7, 99, 500, 2_001):
        local, shares = split_stage(size, 333, [partner("a", 777), partner("b", 101)], k_min=1)
        assert local + sum(shares.values()) == size


def test_a_partner_whose_part_would_be_below_k_min_is_left_out_and_the_rest_resplit():
    local, shares = split_stage(100, 500, [partner("big", 450), partner("tiny", 40)], k_min=10)
    assert "tiny" not in shares
    assert local + shares["big"] == 100
    assert (local, shares["big"]) == (53, 47)


def test_without_partners_this_node_sends_the_whole_stage():
    assert split_stage(500, 1_000, [], k_min=10) == (500, {})
    assert split_stage(500, 1_000, [partner("empty", 0)], k_min=10) == (500, {})


def test_a_node_with_no_members_of_its_own_gives_the_whole_stage_to_partners():
    local, shares = split_stage(200, 0, [partner("a", 100), partner("b", 300)], k_min=10)
    assert (local, shares) == (0, {"a": 50, "b": 150})
