"""Who a boost may mail, and a uniformly random sample of them that stays fast at millions of
members.

Eligible for a petition's boost (DESIGN §4): subscribed, consented to the instance's email, no
suppressed address, has not turned campaign email off, has not signed the petition, was never
mailed about it, inside its geographic scope (state, district or postal area) — and, for today,
under the caps: no boost email in the last `gap_days` days (so two petitions competing for one
member cannot both mail them) and fewer campaign emails in 7 days than the instance's cap.
Every check is an indexed anti-join in SQL: signature (petition, person) is unique, delivery is
indexed on (person, sent_at), and the scope columns are indexed.

Why not `ORDER BY random()`: it reads and sorts the whole eligible audience to keep a few
hundred rows. Instead the sampler draws member ids uniformly at random, without replacement,
from the id range and keeps those that exist and are eligible — one query per round with the
probed ids as a single array parameter, looked up by primary key. Each probe is a uniformly
random id, so every eligible member is equally likely to be probed in any round, and taking the
eligible ones in probe order gives an exactly uniform random subset of the eligible audience
(rejection sampling over the id space: gaps from deleted members and ineligible members only
cost probes, they do not tilt the odds). Walking the primary key from a random start would be
cheaper but is not uniform: members imported together sit next to each other, so a sample
would come in runs of neighbours.

The number of probes is about k / (share of ids that are eligible). When that share is small —
a narrow postal area, or an audience nearly exhausted — probing would approach a full scan
anyway, so the sampler scans the eligible audience once and samples from it in Python (still
uniform: the members already found are excluded and the rest drawn at random).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from core.db import database
from core.people.tables import Person

# Probe ids in rounds of at most this many (one array parameter each).
MAX_PROBES_PER_ROUND = 200_000
# Before anything is known, assume this share of ids is eligible; rounds adapt from there.
FIRST_GUESS = 0.5
# Probe this much more than the estimate says is needed, so one round usually suffices.
HEADROOM = 1.25
# Scan instead of probing once probing would touch more than this share of the id space.
SCAN_SHARE = 0.25
# The frequency window of the instance's campaign cap (core.mailings.eligibility).
CAP_WINDOW = timedelta(days=7)
TOPIC = "campaigns"


@dataclass(frozen=True)
class Scope:
    """A petition's audience: national, or one region, district or postal area."""

    petition_id: int
    kind: str
    value: str


@dataclass(frozen=True)
class Caps:
    """Today's limits: a boost email at most once per `gap_days` per member, and fewer than
    `weekly_cap` campaign emails in 7 days (0: no cap)."""

    now: datetime
    gap_days: int
    weekly_cap: int


@dataclass(frozen=True)
class Sample:
    ids: list[int]
    probes: int  # ids probed
    rounds: int  # probe queries
    scanned: bool  # fell back to scanning the eligible audience


def _is_postgres() -> bool:
    return isinstance(database(), PostgresEngine)


def eligibility(scope: Scope, caps: Caps | None) -> tuple[str, list[Any]]:
    """The WHERE clause (on `person p`) for members the boost may mail, with its parameters.
    Without `caps`, the lasting audience: members who could be mailed on some day."""
    clauses = [
        "p.subscription = 'subscribed'",
        "p.consent_instance_email = {}",
        "NOT EXISTS (SELECT 1 FROM suppressed_address s WHERE s.email_key = p.email_key)",
        "NOT EXISTS (SELECT 1 FROM mail_preference mp WHERE mp.person = p.id "
        "AND CAST(mp.topics_off AS TEXT) LIKE {})",
        "NOT EXISTS (SELECT 1 FROM signature sg WHERE sg.petition = {} AND sg.person = p.id)",
        "NOT EXISTS (SELECT 1 FROM delivery dp JOIN mailing mp2 ON mp2.id = dp.mailing "
        "WHERE dp.person = p.id AND mp2.petition = {})",
    ]
    params: list[Any] = [True, f'%"{TOPIC}"%', scope.petition_id, scope.petition_id]
    if scope.kind == "region":
        clauses.append("p.region = {}")
        params.append(scope.value)
    elif scope.kind == "district":
        clauses.append("p.district = {}")
        params.append(scope.value)
    elif scope.kind == "postal":
        clauses.append("UPPER(p.postal_code) LIKE {}")
        params.append(scope.value.strip().upper().replace("%", "").replace("_", "") + "%")
    if caps is not None:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM delivery dg JOIN mailing mg ON mg.id = dg.mailing "
            "WHERE dg.person = p.id AND mg.kind = 'boost' AND dg.created_at >= {} "
            "AND dg.status IN ('waiting', 'queued', 'sending', 'sent'))"
        )
        params.append(caps.now - timedelta(days=caps.gap_days))
        if caps.weekly_cap > 0:
            clauses.append(
                "(SELECT COUNT(*) FROM delivery dc WHERE dc.person = p.id AND dc.status = 'sent' "
                "AND dc.sent_at >= {}) < {}"
            )
            params += [caps.now - CAP_WINDOW, caps.weekly_cap]
    return " AND ".join(clauses), params


def id_list(ids: list[int]) -> tuple[str, Any]:
    """A condition on `p.id` matching `ids`, as one parameter whatever their number."""
    if _is_postgres():
        return "p.id = ANY({})", list(ids)
    return "p.id IN (SELECT value FROM json_each({}))", json.dumps(ids)


async def count_remaining(scope: Scope) -> int:
    """The lasting eligible audience not yet mailed about the petition (the decision's
    `remaining`): an indexed count, run once per decision, not per email."""
    where, params = eligibility(scope, None)
    rows = await Person.raw(f"SELECT COUNT(*) AS n FROM person p WHERE {where}", *params)  # noqa: S608
    return int(rows[0]["n"])


async def _eligible_among(ids: list[int], where: str, params: list[Any]) -> set[int]:
    condition, value = id_list(ids)
    rows = await Person.raw(
        f"SELECT p.id FROM person p WHERE {condition} AND {where}",  # noqa: S608
        value,
        *params,
    )
    return {int(row["id"]) for row in rows}


async def _scan(where: str, params: list[Any]) -> list[int]:
    rows = await Person.raw(f"SELECT p.id FROM person p WHERE {where}", *params)  # noqa: S608
    return [int(row["id"]) for row in rows]


def _draw(rng: random.Random, low: int, high: int, count: int, probed: set[int]) -> list[int]:
    """`count` ids from [low, high] not probed before, in random order."""
    span = high - low + 1
    if 2 * count >= span - len(probed):  # most of what is left: enumerate it
        rest = [i for i in range(low, high + 1) if i not in probed]
        rng.shuffle(rest)
        return rest
    drawn: list[int] = []
    seen: set[int] = set()
    while len(drawn) < count:
        for candidate in rng.sample(range(low, high + 1), min(span, 2 * (count - len(drawn)))):
            if candidate not in probed and candidate not in seen:
                seen.add(candidate)
                drawn.append(candidate)
                if len(drawn) == count:
                    break
    return drawn


async def sample_eligible(scope: Scope, k: int, caps: Caps, rng: random.Random) -> Sample:
    """Up to `k` eligible members, a uniformly random subset (fewer only if fewer are eligible
    today)."""
    if k <= 0:
        return Sample([], 0, 0, False)
    bounds = await Person.raw("SELECT MIN(id) AS low, MAX(id) AS high FROM person")
    low, high = bounds[0]["low"], bounds[0]["high"]
    if low is None:
        return Sample([], 0, 0, False)
    low, high = int(low), int(high)
    span = high - low + 1
    where, params = eligibility(scope, caps)

    chosen: list[int] = []
    probed: set[int] = set()
    found_total, rounds, scanned = 0, 0, False
    while len(chosen) < k and len(probed) < span:
        needed = k - len(chosen)
        share = found_total / len(probed) if probed else FIRST_GUESS
        if probed and (share == 0 or needed / share > SCAN_SHARE * span):
            # Eligible members are rare among ids: one scan is cheaper than probing for them.
            taken = set(chosen)
            rest = [pid for pid in await _scan(where, params) if pid not in taken]
            chosen += rng.sample(rest, min(needed, len(rest)))
            scanned = True
            break
        count = min(MAX_PROBES_PER_ROUND, span - len(probed), math.ceil(needed / share * HEADROOM) + 16)
        batch = _draw(rng, low, high, count, probed)
        probed.update(batch)
        eligible = await _eligible_among(batch, where, params)
        rounds += 1
        found_total += len(eligible)
        # In probe order, which is random: the first `needed` are a uniform pick among them.
        chosen += [pid for pid in batch if pid in eligible][:needed]
    return Sample(chosen, len(probed), rounds, scanned)
