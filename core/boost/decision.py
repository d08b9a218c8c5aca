"""What a boost does after each stage, and the sentence that explains it.

The rule (docs/boost.md): the petition's sign rate has the posterior
Beta(alpha + signatures, beta + deliveries − signatures) over every stage so far, where
Beta(alpha, beta) is the benchmark's population prior. With P = P(rate > benchmark rate):
expand ×factor when P ≥ expand_probability, stop when P ≤ stop_probability, otherwise send a
further small stage. Unsubscribes above the cap stop a boost whatever its sign rate; an empty
eligible audience ends it. Staff may overrule (turbocharge, hold, resume, stop, exclude).

Decisions are pure values, so the database runner, the leader's dashboard and the simulation
all run this one function and log the very numbers it decided with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.boost.benchmark import Benchmark
from core.boost.beta import probability_above
from core.boost.policy import DEFAULT_POLICY, BoostPolicy

__all__ = [
    "FINAL_ACTIONS",
    "Action",
    "Decision",
    "StaffAction",
    "StageOutcome",
    "Totals",
    "decide",
    "staff_decision",
    "start",
    "totals",
]


class Action(StrEnum):
    START = "start"  # became a candidate: a first sample is due
    EXPAND = "expand"
    CONTINUE = "continue"  # a further small stage
    STOP = "stop"  # likely below the benchmark
    STOP_UNSUBSCRIBES = "stop_unsubscribes"
    EXHAUSTED = "exhausted"  # no eligible member left to mail
    HOLD = "hold"  # staff: no new stage until resumed
    EXCLUDE = "exclude"  # staff: never boost this petition


class StaffAction(StrEnum):
    TURBOCHARGE = "turbocharge"
    HOLD = "hold"
    RESUME = "resume"
    STOP = "stop"
    EXCLUDE = "exclude"


# Actions after which the boost sends nothing more (a held boost may be resumed).
FINAL_ACTIONS = frozenset({Action.STOP, Action.STOP_UNSUBSCRIBES, Action.EXHAUSTED, Action.EXCLUDE})


@dataclass(frozen=True)
class StageOutcome:
    """One stage once its window has closed.

    `size` is how many emails the stage sent (an expansion is a multiple of all sent so far);
    `signatures` are those attributed to the stage's source code within the window.
    """

    size: int
    deliveries: int
    signatures: int
    unsubscribes: int

    def __post_init__(self) -> None:
        for name in ("size", "deliveries", "signatures", "unsubscribes"):
            if getattr(self, name) < 0:
                raise ValueError(f"a stage's {name} cannot be negative")


@dataclass(frozen=True)
class Totals:
    deliveries: int
    signatures: int
    unsubscribes: int
    emails: int

    @property
    def counted_signatures(self) -> int:
        # A forwarded link can bring signatures from people who were not mailed; the posterior is
        # about recipients, so at most every delivery counts as one signature.
        return min(self.signatures, self.deliveries)

    @property
    def sign_rate(self) -> float:
        return self.signatures / self.deliveries if self.deliveries else 0.0

    @property
    def unsubscribe_rate(self) -> float:
        return self.unsubscribes / self.deliveries if self.deliveries else 0.0


def totals(stages: Sequence[StageOutcome]) -> Totals:
    return Totals(
        deliveries=sum(s.deliveries for s in stages),
        signatures=sum(s.signatures for s in stages),
        unsubscribes=sum(s.unsubscribes for s in stages),
        emails=sum(s.size for s in stages),
    )


@dataclass(frozen=True)
class Decision:
    action: Action
    next_stage_size: int  # emails in the stage to send now (0: none)
    deliveries: int
    signatures: int
    unsubscribes: int
    benchmark_rate: float
    probability_above: float  # P(sign rate > benchmark rate) under the posterior
    posterior_alpha: float
    posterior_beta: float
    by_staff: bool
    sentence: str

    @property
    def sign_rate(self) -> float:
        return self.signatures / self.deliveries if self.deliveries else 0.0

    @property
    def unsubscribe_rate(self) -> float:
        return self.unsubscribes / self.deliveries if self.deliveries else 0.0

    @property
    def is_final(self) -> bool:
        return self.action in FINAL_ACTIONS

    def as_log(self) -> dict[str, object]:
        """The decision as a JSON-able record for the decision log."""
        return {
            "action": self.action.value,
            "next_stage_size": self.next_stage_size,
            "deliveries": self.deliveries,
            "signatures": self.signatures,
            "unsubscribes": self.unsubscribes,
            "sign_rate": self.sign_rate,
            "unsubscribe_rate": self.unsubscribe_rate,
            "benchmark_rate": self.benchmark_rate,
            "probability_above": self.probability_above,
            "posterior_alpha": self.posterior_alpha,
            "posterior_beta": self.posterior_beta,
            "by_staff": self.by_staff,
            "sentence": self.sentence,
        }


def start(signature_count: int, remaining: int, policy: BoostPolicy = DEFAULT_POLICY) -> Decision:
    """The petition has qualified: its first, uniformly random sample is due."""
    size = min(policy.first_stage_size, max(remaining, 0))
    qualifies = f"{signature_count:,} signatures, qualifies for a member sample"
    if size == 0:
        sentence, action = f"{qualifies} → no eligible member to mail", Action.EXHAUSTED
    else:
        sentence, action = f"{qualifies} → sample of {size:,}", Action.START
    return Decision(
        action=action,
        next_stage_size=size,
        deliveries=0,
        signatures=0,
        unsubscribes=0,
        benchmark_rate=0.0,
        probability_above=0.0,
        posterior_alpha=0.0,
        posterior_beta=0.0,
        by_staff=False,
        sentence=sentence,
    )


def decide(
    stages: Sequence[StageOutcome],
    benchmark: Benchmark,
    remaining: int,
    policy: BoostPolicy = DEFAULT_POLICY,
) -> Decision:
    """The engine's decision once the latest stage's window has closed.

    `remaining` is the eligible audience not yet mailed for this petition.
    """
    if not stages:
        raise ValueError("a decision needs at least one stage; use start() for a new candidate")
    t = totals(stages)
    alpha, beta, p = _posterior(t, benchmark)
    if t.deliveries and t.unsubscribes > policy.unsubscribe_cap * t.deliveries:
        action, size = Action.STOP_UNSUBSCRIBES, 0
    elif remaining <= 0:
        action, size = Action.EXHAUSTED, 0
    elif p >= policy.expand_probability:
        action, size = Action.EXPAND, min(remaining, _expanded_size(t, policy))
    elif p <= policy.stop_probability:
        action, size = Action.STOP, 0
    else:
        action, size = Action.CONTINUE, min(remaining, policy.small_stage_size)
    return _decision(action, size, t, benchmark, alpha, beta, p, policy, remaining, staff=None)


def staff_decision(
    staff_action: StaffAction,
    stages: Sequence[StageOutcome],
    benchmark: Benchmark,
    remaining: int,
    policy: BoostPolicy = DEFAULT_POLICY,
) -> Decision:
    """Staff overrule the engine; the numbers at that moment are logged with it.

    Turbocharge expands now (×factor on the emails sent so far, or on the first stage's size
    before any sample); resume asks the engine again (or starts the first sample if there is none).
    """
    t = totals(stages)
    alpha, beta, p = _posterior(t, benchmark)
    if staff_action is StaffAction.TURBOCHARGE:
        if remaining <= 0:
            action, size = Action.EXHAUSTED, 0
        else:
            action, size = Action.EXPAND, min(remaining, _expanded_size(t, policy))
    elif staff_action is StaffAction.RESUME:
        base = decide(stages, benchmark, remaining, policy) if stages else start(0, remaining, policy)
        action, size = base.action, base.next_stage_size
    elif staff_action is StaffAction.HOLD:
        action, size = Action.HOLD, 0
    elif staff_action is StaffAction.STOP:
        action, size = Action.STOP, 0
    else:
        action, size = Action.EXCLUDE, 0
    return _decision(action, size, t, benchmark, alpha, beta, p, policy, remaining, staff=staff_action)


def _posterior(t: Totals, benchmark: Benchmark) -> tuple[float, float, float]:
    alpha = benchmark.alpha + t.counted_signatures
    beta = benchmark.beta + t.deliveries - t.counted_signatures
    return alpha, beta, probability_above(alpha, beta, benchmark.rate)


def _expanded_size(t: Totals, policy: BoostPolicy) -> int:
    # ×factor on everything sent so far: the new stage is big next to the evidence behind it,
    # yet a good petition reaches its whole audience in a few windows, not a dozen.
    return policy.expansion_factor * max(t.emails, policy.first_stage_size)


_STAFF_VERBS = {
    StaffAction.TURBOCHARGE: "staff turbocharged",
    StaffAction.HOLD: "staff held",
    StaffAction.RESUME: "staff resumed",
    StaffAction.STOP: "staff stopped",
    StaffAction.EXCLUDE: "staff excluded",
}


def _decision(
    action: Action,
    size: int,
    t: Totals,
    benchmark: Benchmark,
    alpha: float,
    beta: float,
    p: float,
    policy: BoostPolicy,
    remaining: int,
    staff: StaffAction | None,
) -> Decision:
    return Decision(
        action=action,
        next_stage_size=size,
        deliveries=t.deliveries,
        signatures=t.signatures,
        unsubscribes=t.unsubscribes,
        benchmark_rate=benchmark.rate,
        probability_above=p,
        posterior_alpha=alpha,
        posterior_beta=beta,
        by_staff=staff is not None,
        sentence=_sentence(action, size, t, benchmark, p, policy, remaining, staff),
    )


def _percent(share: float) -> str:
    return f"{share * 100:.1f} %"


def _probability(p: float) -> str:
    # Two decimals, but never a certainty the posterior does not claim: 0.998 is "P>0.99".
    if p > 0.99:
        return "P>0.99"
    if p < 0.01:
        return "P<0.01"
    return f"P={p:.2f}"


def _sentence(
    action: Action,
    size: int,
    t: Totals,
    benchmark: Benchmark,
    p: float,
    policy: BoostPolicy,
    remaining: int,
    staff: StaffAction | None,
) -> str:
    """E.g. "sampled 500, 41 signed (8.2 %), benchmark 4.0 %, P=0.97 → expanded to 2,000"."""
    if t.deliveries:
        numbers = f"sampled {t.deliveries:,}, {t.signatures:,} signed ({_percent(t.sign_rate)})"
    elif t.emails:
        numbers = "sampled 0, no deliveries"
    else:
        numbers = "not sampled yet"
    if action is Action.STOP_UNSUBSCRIBES:
        numbers += (
            f", {t.unsubscribes:,} unsubscribed ({_percent(t.unsubscribe_rate)}, "
            f"cap {_percent(policy.unsubscribe_cap)})"
        )
    else:
        numbers += f", benchmark {_percent(benchmark.rate)}, {_probability(p)}"
    if action is Action.EXPAND:
        outcome = f"expanded to {size:,}" + (", the rest of the audience" if size == remaining else "")
    elif action is Action.CONTINUE:
        outcome = f"a further {size:,}" + (", the rest of the audience" if size == remaining else "")
    elif action is Action.START:
        outcome = f"sample of {size:,}"
    elif action is Action.STOP:
        outcome = "stopped"
    elif action is Action.STOP_UNSUBSCRIBES:
        outcome = "stopped for unsubscribes"
    elif action is Action.EXHAUSTED:
        outcome = "audience exhausted"
    elif action is Action.HOLD:
        outcome = "on hold"
    else:
        outcome = "excluded from boosts"
    prefix = f"{_STAFF_VERBS[staff]}: " if staff is not None else ""
    return f"{prefix}{numbers} → {outcome}"
