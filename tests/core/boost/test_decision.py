"""The decision after each stage: the rule, its edge cases, and the sentence leaders read."""

import dataclasses
import random

import pytest

from core.boost import (
    DEFAULT_POLICY,
    Action,
    Benchmark,
    StaffAction,
    StageOutcome,
    decide,
    default_benchmark,
    staff_decision,
    start,
)

DEFAULT = default_benchmark()  # 3 %, Beta(6, 194)
FOUR_PERCENT = Benchmark(rate=0.04, alpha=96.0, beta=2304.0, boosts=30)


def stage(deliveries, signed, unsubscribed=0, size=None):
    return StageOutcome(
        size=deliveries if size is None else size,
        deliveries=deliveries,
        signatures=signed,
        unsubscribes=unsubscribed,
    )


def test_the_decision_reads_like_the_issue_example():
    decision = decide([stage(500, 41, 2)], FOUR_PERCENT, remaining=50_000)
    assert decision.sentence == "sampled 500, 41 signed (8.2 %), benchmark 4.0 %, P=0.97 → expanded to 2,000"
    assert decision.action is Action.EXPAND
    assert decision.next_stage_size == 2_000
    assert decision.probability_above == pytest.approx(0.9719, abs=1e-4)


def test_a_sample_well_above_the_benchmark_expands_four_times():
    decision = decide([stage(500, 41)], DEFAULT, remaining=90_000)
    assert decision.action is Action.EXPAND
    assert decision.next_stage_size == 2_000
    assert decision.sentence == "sampled 500, 41 signed (8.2 %), benchmark 3.0 %, P>0.99 → expanded to 2,000"


def test_an_uncertain_sample_gets_a_further_small_stage():
    decision = decide([stage(500, 18)], DEFAULT, remaining=90_000)
    assert decision.action is Action.CONTINUE
    assert decision.next_stage_size == DEFAULT_POLICY.small_stage_size
    assert decision.probability_above == pytest.approx(0.72, abs=0.01)
    assert decision.sentence == "sampled 500, 18 signed (3.6 %), benchmark 3.0 %, P=0.72 → a further 500"


def test_a_sample_well_below_the_benchmark_stops():
    decision = decide([stage(500, 8)], DEFAULT, remaining=90_000)
    assert decision.action is Action.STOP
    assert decision.next_stage_size == 0
    assert decision.is_final
    assert decision.sentence == "sampled 500, 8 signed (1.6 %), benchmark 3.0 %, P=0.04 → stopped"


def test_unsubscribes_over_the_cap_stop_a_boost_whatever_its_sign_rate():
    decision = decide([stage(500, 41, unsubscribed=6)], DEFAULT, remaining=90_000)
    assert decision.action is Action.STOP_UNSUBSCRIBES
    assert decision.is_final
    assert decision.sentence == (
        "sampled 500, 41 signed (8.2 %), 6 unsubscribed (1.2 %, cap 1.0 %) → stopped for unsubscribes"
    )


def test_unsubscribes_at_the_cap_do_not_stop_it():
    assert decide([stage(500, 41, unsubscribed=5)], DEFAULT, remaining=90_000).action is Action.EXPAND


def test_an_exhausted_audience_ends_the_boost():
    decision = decide([stage(500, 41)], DEFAULT, remaining=0)
    assert decision.action is Action.EXHAUSTED
    assert decision.next_stage_size == 0
    assert decision.sentence.endswith("→ audience exhausted")


def test_an_expansion_larger_than_the_audience_takes_the_rest():
    decision = decide([stage(500, 41)], DEFAULT, remaining=1_234)
    assert decision.next_stage_size == 1_234
    assert decision.sentence.endswith("→ expanded to 1,234, the rest of the audience")


def test_expansion_multiplies_everything_sent_so_far():
    stages = [stage(500, 41), stage(2_000, 170), stage(500, 40)]
    assert decide(stages, DEFAULT, remaining=500_000).next_stage_size == 4 * 3_000


def test_the_posterior_counts_every_stage():
    decision = decide([stage(500, 20), stage(500, 22)], DEFAULT, remaining=50_000)
    assert (decision.deliveries, decision.signatures) == (1_000, 42)
    assert decision.posterior_alpha == pytest.approx(6 + 42)
    assert decision.posterior_beta == pytest.approx(194 + 958)


def test_a_stage_with_no_deliveries_decides_on_the_prior_alone():
    decision = decide([stage(0, 0, size=500)], DEFAULT, remaining=50_000)
    assert decision.action is Action.CONTINUE
    assert 0.2 < decision.probability_above < 0.8
    assert decision.sentence.startswith("sampled 0, no deliveries, benchmark 3.0 %")


def test_everyone_signing_expands_with_certainty():
    decision = decide([stage(500, 500)], DEFAULT, remaining=50_000)
    assert decision.action is Action.EXPAND
    assert decision.probability_above == pytest.approx(1.0)


def test_signatures_from_forwarded_links_count_at_most_one_per_delivery():
    decision = decide([stage(100, 140)], DEFAULT, remaining=50_000)
    assert decision.action is Action.EXPAND
    assert decision.posterior_beta == pytest.approx(194)
    assert decision.signatures == 140


def test_the_thresholds_are_inclusive():
    probability = decide([stage(500, 17)], DEFAULT, remaining=50_000).probability_above
    at_expand = dataclasses.replace(DEFAULT_POLICY, expand_probability=probability, stop_probability=0.01)
    at_stop = dataclasses.replace(DEFAULT_POLICY, stop_probability=probability, expand_probability=0.99)
    assert decide([stage(500, 17)], DEFAULT, 50_000, at_expand).action is Action.EXPAND
    assert decide([stage(500, 17)], DEFAULT, 50_000, at_stop).action is Action.STOP


def test_the_rule_holds_on_random_outcomes_with_a_fixed_seed():
    rng = random.Random(20261125)
    for _ in range(300):
        deliveries = rng.randrange(1, 5_000)
        signed = rng.randrange(0, deliveries // 5 + 1)
        unsubscribed = rng.randrange(0, deliveries // 50 + 2)
        remaining = rng.choice([0, 300, 100_000])
        d = decide([stage(deliveries, signed, unsubscribed)], DEFAULT, remaining)
        if unsubscribed > 0.01 * deliveries:
            assert d.action is Action.STOP_UNSUBSCRIBES
        elif remaining == 0:
            assert d.action is Action.EXHAUSTED
        elif d.probability_above >= 0.8:
            assert d.action is Action.EXPAND
            assert d.next_stage_size == min(remaining, 4 * max(deliveries, 500))
        elif d.probability_above <= 0.2:
            assert d.action is Action.STOP
        else:
            assert d.action is Action.CONTINUE
            assert d.next_stage_size == min(remaining, 500)


def test_more_signatures_never_lower_the_probability():
    probabilities = [decide([stage(1_000, s)], DEFAULT, 10_000).probability_above for s in range(0, 80)]
    assert probabilities == sorted(probabilities)


def test_a_decision_needs_a_stage():
    with pytest.raises(ValueError):
        decide([], DEFAULT, remaining=100)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError):
        StageOutcome(size=500, deliveries=-1, signatures=0, unsubscribes=0)


def test_a_qualifying_petition_starts_with_the_first_sample():
    decision = start(20, remaining=80_000)
    assert decision.action is Action.START
    assert decision.next_stage_size == 500
    assert decision.sentence == "20 signatures, qualifies for a member sample → sample of 500"
    small = start(23, remaining=120)
    assert small.next_stage_size == 120
    assert start(20, remaining=0).action is Action.EXHAUSTED


def test_staff_can_turbocharge_before_any_sample():
    decision = staff_decision(StaffAction.TURBOCHARGE, [], DEFAULT, remaining=80_000)
    assert decision.action is Action.EXPAND
    assert decision.next_stage_size == 2_000
    assert decision.by_staff
    assert decision.sentence.startswith("staff turbocharged: not sampled yet")


def test_staff_turbocharge_overrules_a_low_rate():
    decision = staff_decision(StaffAction.TURBOCHARGE, [stage(500, 8)], DEFAULT, remaining=80_000)
    assert decision.action is Action.EXPAND
    assert decision.next_stage_size == 2_000
    assert decision.sentence == (
        "staff turbocharged: sampled 500, 8 signed (1.6 %), benchmark 3.0 %, P=0.04 → expanded to 2,000"
    )


def test_staff_hold_stop_exclude_and_resume():
    stages = [stage(500, 41)]
    held = staff_decision(StaffAction.HOLD, stages, DEFAULT, 80_000)
    assert (held.action, held.next_stage_size, held.is_final) == (Action.HOLD, 0, False)
    assert held.sentence.endswith("→ on hold")
    stopped = staff_decision(StaffAction.STOP, stages, DEFAULT, 80_000)
    assert stopped.action is Action.STOP and stopped.is_final
    assert stopped.sentence.startswith("staff stopped: sampled 500, 41 signed (8.2 %)")
    excluded = staff_decision(StaffAction.EXCLUDE, stages, DEFAULT, 80_000)
    assert excluded.action is Action.EXCLUDE and excluded.is_final
    assert excluded.sentence.endswith("→ excluded from boosts")
    resumed = staff_decision(StaffAction.RESUME, stages, DEFAULT, 80_000)
    assert (resumed.action, resumed.next_stage_size) == (Action.EXPAND, 2_000)
    assert resumed.sentence.startswith("staff resumed: ")
    assert staff_decision(StaffAction.RESUME, [], DEFAULT, 80_000).next_stage_size == 500


def test_the_log_record_carries_the_numbers():
    record = decide([stage(500, 41, 2)], FOUR_PERCENT, remaining=50_000).as_log()
    assert record["action"] == "expand"
    assert record["next_stage_size"] == 2_000
    assert (record["deliveries"], record["signatures"], record["unsubscribes"]) == (500, 41, 2)
    assert record["sign_rate"] == pytest.approx(0.082)
    assert record["benchmark_rate"] == 0.04
    assert record["probability_above"] == pytest.approx(0.9719, abs=1e-4)
    assert record["by_staff"] is False
