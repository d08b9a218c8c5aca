"""The boost engine against fixed blasts and an oracle, on a simulated instance.

    python bench/boost_sim.py [--quick] [--seed N] [--members N] [--petitions N] [--days N] [--svg PATH]

A synthetic population of members (region, how readily they sign, a few dead addresses) and
petitions whose true appeal is hidden from the engine (log-normal: most petitions sign a percent
or two of the members they reach, a few sign ten times that), some national, some regional, a
few divisive (many unsubscribes). Petitions appear over the month and qualify when organic
signing reaches the threshold. Three strategies mail the same population for the same days,
with the same limit of one boost email per member per day and the same responses (whether
member i would sign petition j is fixed by a hash of the seed, i and j):

- engine: the real core.boost code — start(), decide() when a window closes, fit_benchmark()
  from stage-1 history, allocate() of the daily budget by Thompson sampling;
- fixed: every qualifying petition blasted to a fixed number of members (2,000);
- oracle: knows the true rates and spends, each day, as many emails as the engine did that day
  on the best qualified petitions first, leaving out those whose unsubscribe rate is over the
  cap (the rule the engine must follow too).

Prints signatures, emails and signatures per email for each, and the engine's share of the
oracle's signatures; the last line is one JSON object (DESIGN §8).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.boost import (  # noqa: E402
    DEFAULT_POLICY,
    BoostPolicy,
    Candidate,
    PastBoost,
    StageOutcome,
    allocate,
    decide,
    fit_benchmark,
    start,
)

FIXED_BLAST = 2_000
REGIONS = 12
NATIONAL_SHARE = 0.7
DIVISIVE_SHARE = 0.08
BOUNCING_SHARE = 0.02
MEAN_SIGNING_DELAY_DAYS = 0.3  # most signatures come within hours of the email
MAX_SIGN_PROBABILITY = 0.9
_M64 = (1 << 64) - 1


def log(message: str) -> None:
    print(message, flush=True)


def mix64(x: int) -> int:
    """splitmix64's finalizer: a fixed, well-spread hash, so responses are common to all strategies."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


# --------------------------------------------------------------------------- the world


@dataclass
class Petition:
    index: int
    appeal: float  # hidden true sign probability for a member of average readiness
    unsubscribe: float  # probability a reached member unsubscribes instead of signing
    region: int | None  # None: national
    qualify_day: int | None  # the day organic signing reaches the threshold (None: never)
    organic_signers: frozenset[int]
    step: int  # the audience order: position k ↦ scope[(step·k + offset) mod n]
    offset: int


@dataclass
class World:
    seed: int
    members: int
    days: int
    region_of: array
    readiness: array
    bouncing: bytearray
    scopes: dict[int | None, list[int] | range]
    petitions: list[Petition]


def build_world(seed: int, members: int, petitions: int, days: int, threshold: int) -> World:
    rng = random.Random(seed)
    weights = [1.0 / (r + 1) ** 0.8 for r in range(REGIONS)]
    region_of = array("b", rng.choices(range(REGIONS), weights=weights, k=members))
    # Readiness to sign: mean 1, skewed (a core of active members signs much more often).
    readiness = array("d", (rng.gammavariate(1.5, 1 / 1.5) for _ in range(members)))
    bouncing = bytearray(1 if rng.random() < BOUNCING_SHARE else 0 for _ in range(members))
    scopes: dict[int | None, list[int] | range] = {None: range(members)}
    for r in range(REGIONS):
        scopes[r] = []
    for i, r in enumerate(region_of):
        scopes[r].append(i)  # type: ignore[union-attr]

    made = []
    for j in range(petitions):
        appeal = min(0.35, max(0.001, rng.lognormvariate(math.log(0.013), 1.1)))
        if rng.random() < DIVISIVE_SHARE:
            unsubscribe = rng.uniform(0.012, 0.03)
        else:
            unsubscribe = min(0.01, rng.lognormvariate(math.log(0.002), 0.5))
        region = None if rng.random() < NATIONAL_SHARE else rng.choices(range(REGIONS), weights=weights)[0]
        created = rng.uniform(0, days - 3)
        # Organic signing: the creator's own reach times the petition's appeal.
        per_day = appeal * rng.lognormvariate(math.log(300), 0.7)
        qualify = created + threshold / per_day
        scope = scopes[region]
        n = len(scope)
        step = rng.randrange(1, n)
        while math.gcd(step, n) != 1:
            step = rng.randrange(1, n)
        made.append(
            Petition(
                index=j,
                appeal=appeal,
                unsubscribe=unsubscribe,
                region=region,
                qualify_day=math.ceil(qualify) if qualify < days else None,
                organic_signers=frozenset(rng.sample(scope, threshold)),
                step=step,
                offset=rng.randrange(n),
            )
        )
    return World(seed, members, days, region_of, readiness, bouncing, scopes, made)


# --------------------------------------------------------------------------- mailing


@dataclass
class Sent:
    emails: int = 0
    deliveries: int = 0
    unsubscribes: int = 0
    signature_times: list[float] = field(default_factory=list)


class Mailer:
    """One strategy's copy of the members' state: who left, who was mailed today, each petition's
    place in its (shared, fixed) random audience order."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.gone = bytearray(world.members)  # unsubscribed or bounced: never mailed again
        self.gone_count = 0
        self.mailed_on = array("i", [-1]) * world.members
        self.position = [0] * len(world.petitions)
        self.deferred: list[list[int]] = [[] for _ in world.petitions]
        self.signatures_by_day = [0] * (world.days + 1)
        self.totals = Sent()

    def remaining(self, j: int) -> int:
        """Members of the petition's scope not yet reached (an upper bound: some may have left)."""
        p = self.world.petitions[j]
        return len(self.world.scopes[p.region]) - self.position[j] + len(self.deferred[j])

    def send(self, j: int, count: int, day: int) -> Sent:
        """Mail up to `count` members of petition j's audience today, in its random order."""
        world = self.world
        p = world.petitions[j]
        scope = world.scopes[p.region]
        n = len(scope)
        gone, mailed_on, readiness, bouncing = self.gone, self.mailed_on, world.readiness, world.bouncing
        organic = p.organic_signers
        key_base = (world.seed * 1_000_003 + j) << 24
        out = Sent()
        retry, self.deferred[j] = self.deferred[j], []
        later: list[int] = []
        position = self.position[j]

        def next_member() -> int | None:
            nonlocal position
            if retry:
                return retry.pop()
            if position >= n:
                return None
            member = scope[(p.step * position + p.offset) % n]
            position += 1
            return member

        horizon = world.days
        while out.emails < count:
            i = next_member()
            if i is None:
                break
            if gone[i] or i in organic:
                continue
            if mailed_on[i] == day:
                later.append(i)
                continue
            mailed_on[i] = day
            out.emails += 1
            if bouncing[i]:
                gone[i] = 1
                self.gone_count += 1
                continue
            out.deliveries += 1
            h = mix64(key_base ^ (i * 0x2545F4914F6CDD1D & _M64))
            sign = min(MAX_SIGN_PROBABILITY, p.appeal * readiness[i])
            if (h & 0x1FFFFF) / 2_097_152 < sign:
                delay = -math.log(1.0 - ((h >> 21) & 0x1FFFFF) / 2_097_152) * MEAN_SIGNING_DELAY_DAYS
                at = day + delay
                out.signature_times.append(at)
                if at < horizon:
                    self.signatures_by_day[int(at) + 1] += 1
            elif (h >> 42) / 4_194_304 < p.unsubscribe:
                gone[i] = 1
                self.gone_count += 1
                out.unsubscribes += 1
        self.position[j] = position
        self.deferred[j] = retry + later
        t = self.totals
        t.emails += out.emails
        t.deliveries += out.deliveries
        t.unsubscribes += out.unsubscribes
        t.signature_times.extend(s for s in out.signature_times if s < horizon)
        return out


# --------------------------------------------------------------------------- strategies


@dataclass
class Stage:
    size: int
    sent: Sent = field(default_factory=Sent)
    first: bool = False
    closes_at: float | None = None  # set when its last email has gone


@dataclass
class Boost:
    petition: int
    stages: list[StageOutcome] = field(default_factory=list)
    current: Stage | None = None
    decisions: list[str] = field(default_factory=list)
    done: bool = False


def run_engine(world: World, policy: BoostPolicy, seed: int) -> tuple[Mailer, list[int], dict[int, Boost]]:
    mailer = Mailer(world)
    rng = random.Random(seed)
    window_days = policy.window_seconds / 86_400
    boosts: dict[int, Boost] = {}
    history: list[PastBoost] = []
    benchmark = fit_benchmark(history, policy)
    emails_per_day = []
    for day in range(world.days):
        # Windows that have closed: measure, learn, decide.
        for boost in boosts.values():
            stage = boost.current
            if boost.done or stage is None or stage.closes_at is None or stage.closes_at > day:
                continue
            closes = stage.closes_at
            outcome = StageOutcome(
                size=stage.size,
                deliveries=stage.sent.deliveries,
                signatures=sum(1 for t in stage.sent.signature_times if t <= closes),
                unsubscribes=stage.sent.unsubscribes,
            )
            boost.stages.append(outcome)
            if stage.first:
                history.append(PastBoost(outcome.deliveries, outcome.signatures))
                benchmark = fit_benchmark(history, policy)
            decision = decide(boost.stages, benchmark, mailer.remaining(boost.petition), policy)
            boost.decisions.append(f"day {day}: {decision.sentence}")
            boost.current = None if decision.is_final else Stage(decision.next_stage_size)
            boost.done = decision.is_final
        # Petitions that qualify today become candidates.
        for p in world.petitions:
            if p.qualify_day == day:
                decision = start(policy.threshold, mailer.remaining(p.index), policy)
                boosts[p.index] = Boost(
                    p.index,
                    current=Stage(decision.next_stage_size, first=True) if not decision.is_final else None,
                    decisions=[f"day {day}: {decision.sentence}"],
                    done=decision.is_final,
                )
        # Today's budget, shared by Thompson sampling among the stages still to send.
        wanting = [b for b in boosts.values() if b.current is not None and b.current.closes_at is None]
        candidates = [
            Candidate(
                key=b.petition,
                signatures=sum(s.signatures for s in b.stages),
                deliveries=sum(s.deliveries for s in b.stages),
                requested=b.current.size - b.current.sent.emails,
                available=mailer.remaining(b.petition),
            )
            for b in wanting
            if b.current is not None
        ]
        budget = policy.daily_budget(world.members - mailer.gone_count)
        sent_today = 0
        for share in allocate(candidates, budget, benchmark, rng):
            boost = boosts[share.key]
            stage = boost.current
            assert stage is not None
            if share.emails:
                out = mailer.send(share.key, share.emails, day)
                sent_today += out.emails
                stage.sent.emails += out.emails
                stage.sent.deliveries += out.deliveries
                stage.sent.unsubscribes += out.unsubscribes
                stage.sent.signature_times.extend(out.signature_times)
            if stage.sent.emails >= stage.size or mailer.remaining(share.key) == 0:
                stage.closes_at = day + window_days
        emails_per_day.append(sent_today)
    return mailer, emails_per_day, boosts


def run_fixed(world: World, blast: int) -> Mailer:
    mailer = Mailer(world)
    pending: dict[int, int] = {}
    for day in range(world.days):
        for p in world.petitions:
            if p.qualify_day == day:
                pending[p.index] = blast
        for j in list(pending):
            out = mailer.send(j, pending[j], day)
            pending[j] -= out.emails
            if pending[j] <= 0 or mailer.remaining(j) == 0:
                del pending[j]
    return mailer


def run_oracle(world: World, emails_per_day: list[int], policy: BoostPolicy) -> Mailer:
    mailer = Mailer(world)
    # It knows every petition's true rates but plays by the same rules: a petition whose members
    # unsubscribe above the cap is not mailed, however well it signs.
    allowed = [p for p in world.petitions if p.unsubscribe * (1 - p.appeal) <= policy.unsubscribe_cap]
    best_first = sorted(allowed, key=lambda p: -p.appeal)
    for day in range(world.days):
        left = emails_per_day[day]
        for p in best_first:
            if left <= 0:
                break
            if p.qualify_day is None or p.qualify_day > day or mailer.remaining(p.index) == 0:
                continue
            left -= mailer.send(p.index, left, day).emails
    return mailer


# --------------------------------------------------------------------------- reporting


def figures(mailer: Mailer) -> dict[str, float | int]:
    t = mailer.totals
    signatures = len(t.signature_times)
    return {
        "signatures": signatures,
        "emails": t.emails,
        "deliveries": t.deliveries,
        "unsubscribes": t.unsubscribes,
        "signatures_per_email": round(signatures / t.emails, 5) if t.emails else 0.0,
    }


def cumulative(mailer: Mailer) -> list[int]:
    running, out = 0, []
    for count in mailer.signatures_by_day:
        running += count
        out.append(running)
    return out


def write_svg(path: Path, series: dict[str, list[int]], title: str) -> None:
    """A line chart of cumulative signatures per day, as plain SVG (no plotting library)."""
    width, height, left, right, top, bottom = 720, 420, 80, 150, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    days = max(len(v) for v in series.values()) - 1
    peak = max(max(v) for v in series.values()) or 1
    magnitude = 10 ** int(math.log10(peak))
    step = next(s * magnitude for s in (0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10) if peak / (s * magnitude) <= 6)
    top_value = math.ceil(peak / step) * step
    colors = {"engine": "#1b7837", "oracle": "#5e3c99", "fixed": "#d95f02"}

    def x(day: float) -> float:
        return left + plot_w * day / days

    def y(value: float) -> float:
        return top + plot_h * (1 - value / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img" '
        f'aria-label="{title}">',
        f"<title>{title}</title>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{left}" y="{top - 16}" font-size="14" font-weight="bold">{title}</text>',
    ]
    value = 0.0
    while value <= top_value + 1e-9:
        parts.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" y2="{y(value):.1f}" stroke="#ddd"/>'
            f'<text x="{left - 8}" y="{y(value) + 4:.1f}" text-anchor="end">{value:,.0f}</text>'
        )
        value += step
    for day in range(0, days + 1, 5):
        parts.append(
            f'<line x1="{x(day):.1f}" y1="{top + plot_h}" x2="{x(day):.1f}" y2="{top + plot_h + 5}" '
            'stroke="#333"/>'
            f'<text x="{x(day):.1f}" y="{top + plot_h + 20}" text-anchor="middle">{day}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>'
        f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">day</text>'
        f'<text transform="translate(18 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
        "cumulative signatures</text>"
    )
    for n, (name, values) in enumerate(series.items()):
        color = colors.get(name, "#333")
        points = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2.5" points="{points}"/>')
        ly = top + 20 + 22 * n
        parts.append(
            f'<line x1="{left + plot_w + 15}" y1="{ly}" x2="{left + plot_w + 40}" y2="{ly}" '
            f'stroke="{color}" stroke-width="2.5"/>'
            f'<text x="{left + plot_w + 46}" y="{ly + 4}">{name} ({values[-1]:,})</text>'
        )
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def simulate(seed: int, members: int, petitions: int, days: int, blast: int, policy: BoostPolicy) -> dict:
    """One world, three strategies; the figures and what the report needs."""
    started = time.perf_counter()
    world = build_world(seed, members, petitions, days, policy.threshold)
    engine, emails_per_day, boosts = run_engine(world, policy, seed)
    fixed = run_fixed(world, blast)
    oracle = run_oracle(world, emails_per_day, policy)
    results = {"engine": figures(engine), "fixed": figures(fixed), "oracle": figures(oracle)}
    appeals = sorted(p.appeal for p in world.petitions)
    share = _ratio(results["engine"]["signatures"], results["oracle"]["signatures"])
    log(
        f"seed {seed}: {sum(1 for p in world.petitions if p.qualify_day is not None)} of {petitions} "
        f"petitions qualify, appeal median {appeals[len(appeals) // 2]:.2%}, max {appeals[-1]:.2%}; "
        f"engine {share:.1%} of oracle [{time.perf_counter() - started:.1f}s]"
    )
    return {
        "world": world,
        "results": results,
        "boosts": boosts,
        "curves": {"oracle": cumulative(oracle), "engine": cumulative(engine), "fixed": cumulative(fixed)},
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--seed", type=int, default=1, help="the first world's seed")
    parser.add_argument("--seeds", type=int, default=5, help="how many worlds (seed, seed + 1, …)")
    parser.add_argument("--members", type=int, default=None, help="default 100,000 (quick) or 1,000,000")
    parser.add_argument("--petitions", type=int, default=None, help="default 60 (quick) or 200")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--blast", type=int, default=FIXED_BLAST, help="members per fixed blast")
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_POLICY.daily_budget_per_member,
        help="the engine's daily budget, emails per member per day (the policy's default if not given)",
    )
    parser.add_argument("--svg", type=Path, default=None, help="write the first world's chart here")
    parser.add_argument("--log", action="store_true", help="print the first world's decision logs")
    args = parser.parse_args()
    members = args.members or (100_000 if args.quick else 1_000_000)
    petitions = args.petitions or (60 if args.quick else 200)
    if members < 1_000 or petitions < 1 or args.days < 4 or args.seeds < 1 or args.blast < 1:
        parser.error("use at least 1,000 members, 1 petition, 4 days, 1 seed and a blast of 1")
    policy = dataclasses.replace(DEFAULT_POLICY, daily_budget_per_member=args.budget)
    log(
        f"{args.seeds} worlds of {members:,} members and {petitions} petitions for {args.days} days; "
        f"budget {policy.daily_budget_per_member} emails per member per day, fixed blasts of {args.blast:,}"
    )

    runs = [
        simulate(args.seed + n, members, petitions, args.days, args.blast, policy) for n in range(args.seeds)
    ]
    first = runs[0]
    if args.log:
        for j, boost in sorted(first["boosts"].items()):
            log(f"petition {j} (true appeal {first['world'].petitions[j].appeal:.2%}):")
            for line in boost.decisions:
                log(f"    {line}")

    totals: dict[str, dict[str, float | int]] = {}
    for name in ("engine", "fixed", "oracle"):
        summed = {
            key: sum(r["results"][name][key] for r in runs)
            for key in ("signatures", "emails", "deliveries", "unsubscribes")
        }
        summed["signatures_per_email"] = round(_ratio(summed["signatures"], summed["emails"]), 5)
        totals[name] = summed
    log(f"{'':8} {'signatures':>11} {'emails':>12} {'unsubscribes':>13} {'signatures/email':>17}")
    for name, r in totals.items():
        log(
            f"{name:8} {r['signatures']:>11,} {r['emails']:>12,} {r['unsubscribes']:>13,} "
            f"{r['signatures_per_email']:>17.4f}"
        )
    share = _ratio(totals["engine"]["signatures"], totals["oracle"]["signatures"])
    per_email = _ratio(totals["engine"]["signatures_per_email"], totals["fixed"]["signatures_per_email"])
    by_seed = [
        round(_ratio(r["results"]["engine"]["signatures"], r["results"]["oracle"]["signatures"]), 3)
        for r in runs
    ]
    per_email_by_seed = [
        round(
            _ratio(
                r["results"]["engine"]["signatures_per_email"], r["results"]["fixed"]["signatures_per_email"]
            ),
            3,
        )
        for r in runs
    ]
    log(
        f"engine: {share:.1%} of the oracle's signatures (worlds: {min(by_seed):.1%} to {max(by_seed):.1%}), "
        f"{per_email:.2f}× fixed blasts' signatures per email (worlds: {min(per_email_by_seed):.2f} to "
        f"{max(per_email_by_seed):.2f})"
    )
    if args.svg:
        write_svg(
            args.svg,
            first["curves"],
            f"Cumulative signatures: {members:,} members, {petitions} petitions (seed {args.seed})",
        )
        log(f"chart written to {args.svg}")
    print(
        json.dumps(
            {
                "bench": "boost_sim",
                "members": members,
                "petitions": petitions,
                "days": args.days,
                "seeds": [args.seed + n for n in range(args.seeds)],
                "engine": totals["engine"],
                "fixed": totals["fixed"],
                "oracle": totals["oracle"],
                "share_of_oracle": round(share, 3),
                "per_email_vs_fixed": round(per_email, 3),
                "share_of_oracle_by_seed": by_seed,
                "per_email_vs_fixed_by_seed": per_email_by_seed,
            }
        )
    )


if __name__ == "__main__":
    main()
