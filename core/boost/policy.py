"""The boost engine's knobs, in one frozen value that checks itself.

Every number the engine decides with lives here, so the decision log can say which policy a
decision was taken under and the simulation (bench/boost_sim.py) runs the very same defaults
an instance runs. A bad value raises UserError naming the field and what it may be, because an
admin sets these through the settings page.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from core.errors import UserError

__all__ = ["DEFAULT_POLICY", "BoostPolicy"]


@dataclass(frozen=True)
class BoostPolicy:
    # A published, moderated petition becomes a candidate at this many signatures.
    threshold: int = 20
    # Stage 1: a uniformly random sample of this many eligible members.
    first_stage_size: int = 500
    # "Likely better than the benchmark": the next stage is this many times all emails sent so far.
    expansion_factor: int = 4
    # "Not sure yet": a further stage of this size narrows the posterior.
    small_stage_size: int = 500
    # Expand when P(rate > benchmark) is at least this; stop when it is at most stop_probability.
    expand_probability: float = 0.8
    stop_probability: float = 0.2
    # Stop whatever the sign rate once unsubscribes per delivery exceed this.
    unsubscribe_cap: float = 0.01
    # Signatures and unsubscribes are counted for this long after a stage's last email.
    window_seconds: int = 24 * 3600
    # The day's boost budget is this many emails per member of the instance, shared by all candidates.
    daily_budget_per_member: float = 0.15
    # Prior for the benchmark when the instance has no history yet (see core.boost.benchmark):
    # a typical sign rate, and how many deliveries' worth of belief it carries.
    default_rate: float = 0.03
    default_strength: float = 200.0
    # How many past boosts the default prior counts as when blended with this instance's history.
    default_boosts: float = 10.0
    # Pooled reach (core.boost.remote): a reach partner refuses to mail fewer of its members
    # than this, and reports every count between 1 and this minus 1 as suppressed.
    remote_k_min: int = 10

    def __post_init__(self) -> None:
        for name in ("threshold", "first_stage_size", "small_stage_size", "window_seconds", "remote_k_min"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UserError(f"Boost {_label(name)} must be a whole number of at least 1 (got {value!r}).")
        if not isinstance(self.expansion_factor, int) or self.expansion_factor < 2:
            raise UserError(
                "Boost expansion factor must be a whole number of at least 2 "
                f"(got {self.expansion_factor!r})."
            )
        if not 0.0 < self.stop_probability < self.expand_probability < 1.0:
            raise UserError(
                "Boost probabilities must satisfy 0 < stop probability < expand probability < 1 "
                f"(got stop {self.stop_probability}, expand {self.expand_probability})."
            )
        if not 0.0 < self.unsubscribe_cap <= 1.0:
            raise UserError(
                f"Boost unsubscribe cap must be a share between 0 and 1 (got {self.unsubscribe_cap})."
            )
        if not self.daily_budget_per_member >= 0.0:
            raise UserError(
                f"Boost daily budget per member must be zero or more (got {self.daily_budget_per_member})."
            )
        if not 0.0 < self.default_rate < 1.0:
            raise UserError(f"Boost default rate must be a share between 0 and 1 (got {self.default_rate}).")
        if not self.default_strength > 0.0 or not self.default_boosts > 0.0:
            raise UserError("Boost default strength and default boosts must be more than zero.")

    def daily_budget(self, members: int) -> int:
        """Emails the engine may send today on an instance with `members` mailable members."""
        return int(members * self.daily_budget_per_member)

    def as_dict(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _label(name: str) -> str:
    return name.replace("_", " ")


DEFAULT_POLICY = BoostPolicy()
