"""The boost policy refuses values that would make the engine misbehave, saying why."""

import pytest

from core.boost import DEFAULT_POLICY, BoostPolicy
from core.errors import UserError


def test_the_defaults_are_the_documented_ones():
    p = DEFAULT_POLICY
    assert (p.threshold, p.first_stage_size, p.expansion_factor, p.small_stage_size) == (20, 500, 4, 500)
    assert (p.expand_probability, p.stop_probability, p.unsubscribe_cap) == (0.8, 0.2, 0.01)
    assert p.window_seconds == 86_400


def test_the_window_can_be_seconds_for_tests_and_demos():
    assert BoostPolicy(window_seconds=5).window_seconds == 5


def test_the_daily_budget_scales_with_the_members():
    assert BoostPolicy(daily_budget_per_member=0.15).daily_budget(100_000) == 15_000
    assert BoostPolicy(daily_budget_per_member=0.0).daily_budget(100_000) == 0


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"threshold": 0}, "threshold"),
        ({"first_stage_size": -5}, "first stage size"),
        ({"window_seconds": 0}, "window seconds"),
        ({"expansion_factor": 1}, "expansion factor"),
        ({"expand_probability": 0.2, "stop_probability": 0.2}, "probabilities"),
        ({"unsubscribe_cap": 0.0}, "unsubscribe cap"),
        ({"daily_budget_per_member": -1.0}, "daily budget"),
        ({"default_rate": 1.5}, "default rate"),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_them(changes, words):
    with pytest.raises(UserError, match=words):
        BoostPolicy(**changes)
