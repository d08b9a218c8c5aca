"""The boost runner: the decision core (core.boost) wired to the database and the mail engine.

One pass (`run_boosts`, every 30 seconds through the outbox's periodic jobs, so once per
interval across all workers):

1. halt boosts whose petition is no longer published (taken down by moderation, closed);
2. turn published, moderated petitions at the threshold into candidates (`start()`: a first
   sample is due);
3. open a stage's window once its last email has gone, and close windows that have ended:
   count the stage's deliveries, the signatures that came through its source code and the
   unsubscribes from its mailing, then `decide()`;
4. deal out what is left of the day's budget (`allocate()`, seeded from the date and the
   instance's secret, the seed logged in the day's ledger) and mail each share: a uniform
   sample (core.boost.sampling) inserted as queued deliveries of the stage's mailing, and the
   mail engine's sender woken, as `send_now` does.

Every step reads its state from the database and writes it back with conditional updates, so a
restart or a second worker resumes where the last one stopped, and a clock that jumped only
moves the moment a window is judged to have ended. `now` is injectable for tests and demos.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.boost import (
    Action,
    Benchmark,
    BoostPolicy,
    Decision,
    PastBoost,
    StaffAction,
    StageOutcome,
    allocate,
    decide,
    fit_benchmark,
    staff_decision,
    start,
)
from core.boost.allocation import Candidate
from core.boost.remote import (
    boosts_with_partners,
    dispatch_stage,
    pooled_partners,
    remote_window_end,
    settle_stage,
    stage_totals,
)
from core.boost.sampling import Caps, Scope, count_remaining, id_list, sample_eligible
from core.boost.tables import ACTIVE_STATUSES, Boost, BoostDay, BoostDecisionLog, BoostStage
from core.errors import Conflict, UserError
from core.instance_settings import get_policy
from core.mailings.audience import parse_audience
from core.mailings.lifecycle import cancel, halt
from core.mailings.sending import wake
from core.mailings.service import create_mailing
from core.mailings.tables import Delivery, Mailing
from core.outbox import OutboxWork, transaction
from core.outbox.periodic import periodic
from core.people.tables import Person
from core.petitions.tables import Petition
from core.settings import current_settings

log = logging.getLogger("groundswell.boost")

RUN_EVERY_S = 30
SLICE_SIZE = 100
# Statuses in which a boost may still send (held keeps its stage but deals nothing out).
LIVE_STATUSES = ("candidate", "running", "held")
_ENDED = {
    Action.STOP: "stopped",
    Action.STOP_UNSUBSCRIBES: "stopped",
    Action.EXHAUSTED: "finished",
    Action.EXCLUDE: "excluded",
}
PENDING_DELIVERY = ("waiting", "queued", "sending")


# -- policy -------------------------------------------------------------------------------------


async def current_policy() -> BoostPolicy:
    """The engine's policy from the admin's settings (and GROUNDSWELL_BOOST_WINDOW_SECONDS)."""
    stage = int(await get_policy("boost_first_stage"))
    window = current_settings().boost_window_seconds or int(await get_policy("boost_window_hours")) * 3600
    return BoostPolicy(
        threshold=int(await get_policy("boost_threshold")),
        first_stage_size=stage,
        small_stage_size=stage,
        window_seconds=window,
        daily_budget_per_member=int(await get_policy("boost_daily_per_100")) / 100,
        remote_k_min=int(await get_policy("boost_remote_k_min")),
    )


async def current_caps(now: datetime) -> Caps:
    return Caps(
        now=now,
        gap_days=int(await get_policy("boost_member_gap_days")),
        weekly_cap=int(await get_policy("mail_frequency_cap") or 0),
    )


# -- reading state ------------------------------------------------------------------------------


async def petition_scope(petition_id: int) -> Scope:
    row = (
        await Petition.select(Petition.scope_kind, Petition.scope_value)
        .where(Petition.id == petition_id)
        .first()
    )
    if row is None or row["scope_kind"] == "national" or not row["scope_value"]:
        return Scope(petition_id, "national", "")
    return Scope(petition_id, row["scope_kind"], row["scope_value"])


async def stages_of(boost_id: int) -> list[dict[str, Any]]:
    return await BoostStage.select().where(BoostStage.boost == boost_id).order_by(BoostStage.number)


def outcomes(stages: Sequence[dict[str, Any]]) -> list[StageOutcome]:
    """The closed stages as the decision core sees them."""
    return [
        StageOutcome(
            size=s["allocated"] + (s.get("remote_allocated") or 0),
            deliveries=s["deliveries"],
            signatures=s["signatures"],
            unsubscribes=s["unsubscribes"],
        )
        for s in stages
        if s["closed_at"] is not None
    ]


async def pooled_remaining(boost_id: int | None, petition_id: int) -> int:
    """The eligible audience a decision may count on: this node's, plus the members reach
    partners say they could mail (pooled reach, core.boost.remote; none without partners)."""
    local = await count_remaining(await petition_scope(petition_id))
    return local + sum(p.eligible for p in await pooled_partners(boost_id))


def open_stage(stages: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    for stage in stages:
        if stage["closed_at"] is None:
            return stage
    return None


async def benchmark(policy: BoostPolicy, *, excluding: int | None = None) -> Benchmark:
    """Learned from every other boost's stage 1 (the one uniform sample each candidate gets)."""
    query = BoostStage.select(BoostStage.deliveries, BoostStage.signatures).where(
        (BoostStage.number == 1) & BoostStage.closed_at.is_not_null() & (BoostStage.deliveries > 0)
    )
    if excluding is not None:
        query = query.where(BoostStage.boost != excluding)
    history = [PastBoost(row["deliveries"], row["signatures"]) for row in await query]
    return fit_benchmark(history, policy)


# -- the decision log ---------------------------------------------------------------------------


async def write_log(
    boost_id: int,
    stage: int,
    action: str,
    sentence: str,
    numbers: dict[str, Any],
    *,
    by_staff: str = "",
    now: datetime | None = None,
) -> None:
    await BoostDecisionLog.insert(
        BoostDecisionLog(
            boost=boost_id,
            stage=stage,
            action=action[:20],
            by_staff=by_staff[:100],
            numbers=numbers,
            sentence=sentence,
            created_at=now or datetime.now(UTC),
        )
    )


def numbers_part(decision: Decision) -> str:
    """The numbers of a decision's sentence, without who took it or what follows."""
    head = decision.sentence.rsplit(" → ", 1)[0]
    return head.split(": ", 1)[1] if decision.by_staff and ": " in head else head


# -- applying a decision ------------------------------------------------------------------------


async def apply_decision(
    boost: dict[str, Any],
    decision: Decision,
    *,
    after_stage: int,
    remaining: int,
    bench: Benchmark,
    now: datetime,
    by_staff: str = "",
) -> None:
    """Log the decision and do what it says: a next stage, a hold, or the end of the boost."""
    numbers = {**decision.as_log(), "remaining": remaining, "benchmark": bench.as_log()}
    await write_log(
        boost["id"],
        after_stage,
        decision.action.value,
        decision.sentence,
        numbers,
        by_staff=by_staff,
        now=now,
    )
    if decision.action in (Action.START, Action.EXPAND, Action.CONTINUE) and decision.next_stage_size > 0:
        stages = await stages_of(boost["id"])
        number = max((s["number"] for s in stages), default=0) + 1
        await BoostStage.insert(
            BoostStage(boost=boost["id"], number=number, size=decision.next_stage_size, created_at=now)
        )
        sent_any = any(s["allocated"] for s in stages)
        await Boost.update(
            {
                Boost.status: "running" if sent_any else "candidate",
                Boost.remaining: remaining,
                Boost.updated_at: now,
            }
        ).where(Boost.id == boost["id"])
    elif decision.action is Action.HOLD:
        await Boost.update({Boost.status: "held", Boost.updated_at: now}).where(Boost.id == boost["id"])
    elif decision.action in _ENDED:
        await end_boost(boost["id"], _ENDED[decision.action], decision.sentence, now=now)


async def end_boost(boost_id: int, status: str, reason: str, *, now: datetime) -> None:
    """Stop for good: nothing more of the open stage goes out; its unsent emails are skipped."""
    await Boost.update(
        {Boost.status: status, Boost.ended_reason: reason, Boost.turbocharged: False, Boost.updated_at: now}
    ).where(Boost.id == boost_id)
    for stage in await stages_of(boost_id):
        if stage["closed_at"] is not None:
            continue
        await stop_mailing(stage["mailing"], reason)
        await BoostStage.update(
            {BoostStage.filled_at: stage["filled_at"] or now, BoostStage.closed_at: now}
        ).where(BoostStage.id == stage["id"])


async def stop_mailing(mailing_id: int | None, reason: str) -> None:
    """Halt a stage's mailing if it is sending and skip what it has not sent."""
    if mailing_id is None:
        return
    row = await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first()
    if row is None:
        return
    try:
        if row["status"] in ("sending", "testing"):
            await halt(mailing_id, f"Boost ended: {reason}")
        if row["status"] in ("draft", "scheduled", "sending", "testing", "halted"):
            await cancel(mailing_id)
    except Conflict:
        pass  # the sender finished or staff acted meanwhile: nothing is left to stop


# -- 1. halting boosts whose petition went away -------------------------------------------------


async def halt_unpublished(now: datetime, policy: BoostPolicy) -> list[int]:
    rows = await Boost.raw(
        "SELECT b.id, b.petition, p.status AS petition_status FROM boost b "
        "JOIN petition p ON p.id = b.petition "
        "WHERE b.status IN ('candidate', 'running', 'held') AND p.status <> 'published'"
    )
    halted = []
    for row in rows:
        status = row["petition_status"]
        reason = {
            "rejected": "the petition was taken down by moderation",
            "pending": "the petition is waiting for moderation again",
            "closed": "the petition was closed",
            "delivered": "the petition was delivered",
        }.get(status, f"the petition is {status}")
        stages = await stages_of(row["id"])
        bench = await benchmark(policy, excluding=row["id"])
        numbers = staff_decision(StaffAction.STOP, outcomes(stages), bench, 0, policy)
        sentence = f"{numbers_part(numbers)} → halted: {reason}"
        last = max((s["number"] for s in stages if s["closed_at"] is not None), default=0)
        await write_log(
            row["id"],
            last,
            "halt",
            sentence,
            {**numbers.as_log(), "action": "halt", "petition_status": status},
            now=now,
        )
        await end_boost(row["id"], "stopped", sentence, now=now)
        halted.append(row["id"])
    return halted


# -- 2. new candidates --------------------------------------------------------------------------

_QUALIFYING = """
SELECT p.id, COALESCE(SUM(c.count), 0) AS n FROM petition p
JOIN signature_count c ON c.petition = p.id
WHERE p.status = 'published' AND (p.origin_node = '' OR {})
  AND NOT EXISTS (SELECT 1 FROM boost b WHERE b.petition = p.id)
  AND NOT EXISTS (SELECT 1 FROM abuse_report r WHERE r.petition = p.id AND r.status = 'open')
GROUP BY p.id
HAVING COALESCE(SUM(c.count), 0) >= {}
ORDER BY p.id
"""


async def qualify(now: datetime, policy: BoostPolicy) -> list[int]:
    """Published petitions at the threshold with no open abuse report become candidates.
    Federated copies qualify only where reach partners pool the boost (the hub): their count
    is the federation-wide total the copy holds; elsewhere their origin boosts them."""
    created = []
    pooled = await boosts_with_partners()
    for row in await Petition.raw(_QUALIFYING, pooled, policy.threshold):
        inserted = (
            await Boost.insert(
                Boost(
                    petition=row["id"],
                    source_code=f"boost-{row['id']}",
                    window_seconds=policy.window_seconds,
                    created_at=now,
                    updated_at=now,
                )
            )
            .on_conflict(target=Boost.petition, action="DO NOTHING")
            .returning(Boost.id)
        )
        if not inserted:
            continue  # another run got there first
        boost = await Boost.select().where(Boost.id == inserted[0]["id"]).first()
        remaining = await pooled_remaining(inserted[0]["id"], row["id"])
        decision = start(int(row["n"]), remaining, policy)
        bench = await benchmark(policy, excluding=boost["id"])
        await apply_decision(boost, decision, after_stage=0, remaining=remaining, bench=bench, now=now)
        created.append(boost["id"])
    return created


# -- 3. windows ---------------------------------------------------------------------------------


async def open_windows(now: datetime, policy: BoostPolicy) -> None:
    """A filled stage's window opens when its last email has gone (or could not go)."""
    stages = await BoostStage.select().where(
        BoostStage.filled_at.is_not_null()
        & BoostStage.window_ends_at.is_null()
        & BoostStage.closed_at.is_null()
    )
    for stage in stages:
        last = _as_datetime(stage["filled_at"]) or now
        # Partners' shares are judged once their deliver_by (dispatch + the window) has passed.
        remote_end = await remote_window_end(stage["id"])
        if not stage["allocated"]:
            # Nothing went out here: only the partners' part, if any, is waited for.
            await BoostStage.update({BoostStage.window_ends_at: max(last, remote_end or last)}).where(
                (BoostStage.id == stage["id"]) & BoostStage.window_ends_at.is_null()
            )
            continue
        if stage["mailing"] is not None:
            mailing = await Mailing.select(Mailing.status).where(Mailing.id == stage["mailing"]).first()
            if mailing is not None and mailing["status"] == "halted":
                # The mail engine's circuit breaker (or staff) halted it: what went out is the stage.
                await stop_mailing(stage["mailing"], "halted while the boost was sending")
            pending = await Delivery.count().where(
                (Delivery.mailing == stage["mailing"]) & Delivery.status.is_in(list(PENDING_DELIVERY))
            )
            if pending and mailing is not None and mailing["status"] in ("sending", "testing"):
                continue  # still sending
            rows = await Delivery.raw(
                "SELECT MAX(sent_at) AS last FROM delivery WHERE mailing = {} AND status = 'sent'",
                stage["mailing"],
            )
            sent = _as_datetime(rows[0]["last"])
            if sent is not None and sent > last:
                last = sent
        ends = last + timedelta(seconds=policy.window_seconds)
        await BoostStage.update({BoostStage.window_ends_at: max(ends, remote_end or ends)}).where(
            (BoostStage.id == stage["id"]) & BoostStage.window_ends_at.is_null()
        )
        await Boost.update({Boost.window_seconds: policy.window_seconds}).where(Boost.id == stage["boost"])


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def count_stage(stage: dict[str, Any], boost: dict[str, Any], until: datetime) -> dict[str, int]:
    """A stage's outcome: emails that went out, signatures through its source code and
    unsubscribes from its mailing, up to `until` (the end of its window)."""
    if stage["mailing"] is None:
        return {"deliveries": 0, "signatures": 0, "unsubscribes": 0}
    code = f"{boost['source_code']}-{stage['number']}"
    deliveries = await Delivery.count().where(
        (Delivery.mailing == stage["mailing"]) & (Delivery.status == "sent")
    )
    signatures = await Delivery.raw(
        "SELECT COUNT(*) AS n FROM signature WHERE petition = {} AND source = {} "
        "AND status = 'counted' AND created_at <= {}",
        boost["petition"],
        code,
        until,
    )
    unsubscribes = await Delivery.raw(
        "SELECT COUNT(DISTINCT person) AS n FROM mail_event WHERE mailing = {} AND kind = 'unsubscribe' "
        "AND created_at <= {}",
        stage["mailing"],
        until,
    )
    return {
        "deliveries": int(deliveries),
        "signatures": int(signatures[0]["n"]),
        "unsubscribes": int(unsubscribes[0]["n"]),
    }


async def close_stage(
    stage: dict[str, Any], boost: dict[str, Any], *, until: datetime, now: datetime
) -> bool:
    """Record the stage's outcome, pooled with its reach partners' reports (partners that
    refused or did not report are left out); False if another run closed it first."""
    counts = await count_stage(stage, boost, until)
    remote = await settle_stage(stage["id"])
    closed = (
        await BoostStage.update(
            {
                BoostStage.closed_at: now,
                BoostStage.window_ends_at: until,
                BoostStage.deliveries: counts["deliveries"] + remote.deliveries,
                BoostStage.signatures: counts["signatures"] + remote.signatures,
                BoostStage.unsubscribes: counts["unsubscribes"] + remote.unsubscribes,
                BoostStage.remote_allocated: remote.emails,
            }
        )
        .where((BoostStage.id == stage["id"]) & BoostStage.closed_at.is_null())
        .returning(BoostStage.id)
    )
    return bool(closed)


async def close_windows(now: datetime, policy: BoostPolicy) -> list[int]:
    """Close every window that has ended and decide what each boost does next. A held boost's
    stage is counted too, but it decides only when staff resume it."""
    due = await BoostStage.select().where(
        BoostStage.window_ends_at.is_not_null()
        & (BoostStage.window_ends_at <= now)
        & BoostStage.closed_at.is_null()
    )
    decided = []
    for stage in due:
        boost = await Boost.select().where(Boost.id == stage["boost"]).first()
        if boost is None or boost["status"] not in LIVE_STATUSES:
            continue
        if not await close_stage(stage, boost, until=stage["window_ends_at"], now=now):
            continue
        if boost["status"] == "held":
            continue
        remaining = await pooled_remaining(boost["id"], boost["petition"])
        bench = await benchmark(policy, excluding=boost["id"])
        decision = decide(outcomes(await stages_of(boost["id"])), bench, remaining, policy)
        note = await pooled_note(stage["id"])
        if note:
            decision = replace(decision, sentence=f"{decision.sentence} ({note})")
        await apply_decision(
            boost, decision, after_stage=stage["number"], remaining=remaining, bench=bench, now=now
        )
        decided.append(boost["id"])
    return decided


# -- 4. the day's budget ------------------------------------------------------------------------


def day_seed(day: str, round_number: int) -> int:
    """The allocation's seed: reproducible from the date and the round, unguessable without the
    instance's secret (the secret itself is never logged)."""
    digest = hashlib.sha256(f"{current_settings().secret_key}:boost:{day}:{round_number}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


async def mailable_members() -> int:
    """Members a boost could ever mail: the base of the daily budget."""
    rows = await Person.raw(
        "SELECT COUNT(*) AS n FROM person WHERE subscription = 'subscribed' AND consent_instance_email = {}",
        True,
    )
    return int(rows[0]["n"])


async def ledger(now: datetime, policy: BoostPolicy) -> dict[str, Any]:
    """Today's row (UTC): the budget is fixed by the first round of the day."""
    day = now.astimezone(UTC).date()
    row = await BoostDay.select().where(BoostDay.day == day).first()
    if row is None:
        budget = policy.daily_budget(await mailable_members())
        await BoostDay.insert(BoostDay(day=day, budget=budget, used=0, rounds="[]")).on_conflict(
            target=BoostDay.day, action="DO NOTHING"
        )
        row = await BoostDay.select().where(BoostDay.day == day).first()
    assert row is not None
    return row


_WANTING = """
SELECT b.id AS boost, b.petition, b.turbocharged, b.remaining, b.source_code, s.id AS stage,
       s.number, s.size, s.allocated, s.mailing
FROM boost b JOIN boost_stage s ON s.boost = b.id
JOIN petition p ON p.id = b.petition
WHERE b.status IN ('candidate', 'running') AND s.closed_at IS NULL AND s.filled_at IS NULL
  AND p.status = 'published'
  AND NOT EXISTS (SELECT 1 FROM abuse_report r WHERE r.petition = p.id AND r.status = 'open')
ORDER BY b.id
"""


@dataclass
class Share:
    boost: int
    emails: int
    draw: float
    mailed: int = 0


@dataclass
class RunReport:
    halted: list[int] = field(default_factory=list)
    qualified: list[int] = field(default_factory=list)
    decided: list[int] = field(default_factory=list)
    mailed: dict[int, int] = field(default_factory=dict)


async def deal_out(now: datetime, policy: BoostPolicy, *, simulated: bool = False) -> dict[int, int]:
    """Share what is left of today's budget among the stages that still want emails, and mail
    each share. Returns emails queued per boost."""
    wanting = await Boost.raw(_WANTING)
    if not wanting:
        return {}
    day = await ledger(now, policy)
    left = day["budget"] - day["used"]
    if left <= 0:
        return {}
    bench = await benchmark(policy)
    closed: dict[int, list[StageOutcome]] = {}
    for row in wanting:
        closed[row["boost"]] = outcomes(await stages_of(row["boost"]))
    candidates = [
        Candidate(
            key=row["boost"],
            signatures=sum(o.signatures for o in closed[row["boost"]]),
            deliveries=sum(o.deliveries for o in closed[row["boost"]]),
            requested=row["size"] - row["allocated"],
            available=max(row["remaining"], 0),
            turbocharged=bool(row["turbocharged"]),
        )
        for row in wanting
    ]
    rounds = _json_list(day["rounds"])
    seed = day_seed(str(day["day"]), len(rounds))
    shares = [
        Share(a.key, a.emails, a.draw)
        for a in allocate(candidates, left, bench, random.Random(seed), SLICE_SIZE)
    ]
    caps = await current_caps(now)
    by_boost = {row["boost"]: row for row in wanting}
    mailed: dict[int, int] = {}
    for share in shares:
        row = by_boost[share.boost]
        if share.emails <= 0:
            # Nothing today; but an audience that is gone for good ends the stage now.
            if row["remaining"] <= 0:
                await _fill_if_exhausted(row, now)
            continue
        rng = random.Random(f"{seed}:{share.boost}")
        share.mailed = await mail_share(row, share.emails, caps, rng, now, simulated=simulated)
        mailed[share.boost] = share.mailed
    used = sum(mailed.values())
    rounds.append(
        {
            "at": now.isoformat(),
            "seed": seed,
            "budget": day["budget"],
            "left": left,
            "benchmark": bench.as_log(),
            "shares": [s.__dict__ for s in shares],
        }
    )
    await BoostDay.raw(
        "UPDATE boost_day SET used = used + {}, rounds = {} WHERE id = {}",
        used,
        _json_dump(rounds),
        day["id"],
    )
    return mailed


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value or "[]")
        except ValueError:
            return []
    return list(value or [])


def _json_dump(value: Any) -> str:
    return json.dumps(value)


async def _fill_if_exhausted(row: dict[str, Any], now: datetime) -> bool:
    """End the stage's dealing if no lasting eligible member is left."""
    if await count_remaining(await petition_scope(row["petition"])) > 0:
        return False
    await fill_stage(row["stage"], now, shrink=True)
    await Boost.update({Boost.remaining: 0, Boost.turbocharged: False}).where(Boost.id == row["boost"])
    return True


async def mail_share(
    row: dict[str, Any],
    emails: int,
    caps: Caps,
    rng: random.Random,
    now: datetime,
    *,
    simulated: bool = False,
) -> int:
    """Sample up to `emails` eligible members, queue them in the stage's mailing and wake the
    sender. Returns how many were queued. `simulated` (the demo's fictional members) records
    them as delivered at `now` instead of sending anything."""
    scope = await petition_scope(row["petition"])
    sample = await sample_eligible(scope, emails, caps, rng)
    queued = 0
    if sample.ids:
        mailing_id = row["mailing"] or await stage_mailing(row, now)
        status = (await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first() or {}).get(
            "status"
        )
        if status not in ("draft", "sending", "sent"):
            # Staff halted or cancelled the stage's mailing by hand: the stage ends with it.
            await fill_stage(row["stage"], now, shrink=True)
            return 0
        condition, ids = id_list(sample.ids)
        async with transaction():
            inserted = await Delivery.raw(
                "INSERT INTO delivery (mailing, person, variant, status, attempts, available_at, "  # noqa: S608
                "lease_until, lease_token, error, created_at, sent_at) "
                f"SELECT {{}}, p.id, '', {{}}, 0, 0, 0, '', '', {{}}, {{}} FROM person p WHERE {condition} "
                "ON CONFLICT (mailing, person) DO NOTHING RETURNING id",
                mailing_id,
                "sent" if simulated else "queued",
                now,
                now if simulated else None,
                ids,
            )
            queued = len(inserted)
            await BoostStage.raw(
                "UPDATE boost_stage SET allocated = allocated + {}, started_at = COALESCE(started_at, {}) "
                "WHERE id = {}",
                queued,
                now,
                row["stage"],
            )
            await Boost.raw(
                "UPDATE boost SET remaining = CASE WHEN remaining > {} THEN remaining - {} ELSE 0 END, "
                "status = 'running', updated_at = {} WHERE id = {} AND status IN ('candidate', 'running')",
                queued,
                queued,
                now,
                row["boost"],
            )
            await Mailing.raw(
                "UPDATE mailing SET status = {}, started_at = COALESCE(started_at, {}), "
                "finished_at = {}, recipients = recipients + {}, updated_at = {} "
                "WHERE id = {} AND status IN ('draft', 'sending', 'sent')",
                "sent" if simulated else "sending",
                now,
                now if simulated else None,
                queued,
                now,
                mailing_id,
            )
            if not simulated:
                await wake(mailing_id, f"boost:{row['stage']}:{row['allocated']}")
    allocated = row["allocated"] + queued
    if allocated >= row["size"]:
        await fill_stage(row["stage"], now, shrink=False)
        await Boost.update({Boost.turbocharged: False}).where(Boost.id == row["boost"])
    elif queued < emails:
        await _fill_if_exhausted(row, now)
    log.info("boost %s stage %s: queued %s of %s", row["boost"], row["number"], queued, emails)
    return queued


async def fill_stage(stage_id: int, now: datetime, *, shrink: bool) -> None:
    """Every email of the stage is dealt out; with `shrink`, the stage is what was dealt so
    far (the audience ran dry, or its mailing was stopped by hand)."""
    size = "allocated" if shrink else "size"
    await BoostStage.raw(
        f"UPDATE boost_stage SET filled_at = {{}}, size = {size} WHERE id = {{}} AND filled_at IS NULL",  # noqa: S608
        now,
        stage_id,
    )


_BRACES = re.compile(r"[{}]")


def _literal(text: str) -> str:
    """Text placed in a mail template as itself, never as template syntax."""
    return _BRACES.sub(lambda m: '{{ "' + m.group(0) + '" }}', text)


def _audience_spec(scope: Scope) -> dict[str, Any]:
    """What the stage's mailing says its audience is (the runner resolves it itself)."""
    spec: dict[str, Any] = {"all": True}
    if scope.kind == "region":
        spec = {"region": scope.value}
    elif scope.kind == "postal":
        spec = {"postal_prefix": scope.value}
    spec["exclude_signed"] = [scope.petition_id]
    try:
        return parse_audience(spec).to_spec()
    except UserError:
        return {"all": True, "exclude_signed": [scope.petition_id]}


async def create_boost_mailing(petition_id: int, audience: dict[str, Any], why: str) -> int:
    """A boost's email (kind "boost", topic campaigns): `why` says in one sentence why this
    member hears of the petition, then its title and summary and a link to sign. The stage's
    source code is set by the caller, so signatures through the link are attributed."""
    petition = await Petition.select(Petition.summary).where(Petition.id == petition_id).first()
    summary = _literal((petition or {}).get("summary") or "")
    body = (
        "Hello{% if given_name %} {{ given_name }}{% endif %},\n\n"
        f"{why}\n\n"
        "**{{ petition_title }}**\n\n"
        + (f"{summary}\n\n" if summary else "")
        + "Will you add your name? It takes a minute.\n\n"
        "[Sign “{{ petition_title }}”]({{ petition_url }})\n"
    )
    return await create_mailing(
        kind="boost",
        author_login_id=None,
        subject="Will you sign “{{ petition_title }}”?",
        body=body,
        audience=audience,
        petition_id=petition_id,
        topic="campaigns",
    )


async def stage_mailing(row: dict[str, Any], now: datetime) -> int:
    """The stage's mailing, made on its first share."""
    mailing_id = await create_boost_mailing(
        row["petition"],
        _audience_spec(await petition_scope(row["petition"])),
        "Members of this community started a petition, and it is winning people over:",
    )
    code = f"{row['source_code']}-{row['number']}"
    await Mailing.update({Mailing.source_code: code}).where(Mailing.id == mailing_id)
    claimed = (
        await BoostStage.update({BoostStage.mailing: mailing_id})
        .where((BoostStage.id == row["stage"]) & BoostStage.mailing.is_null())
        .returning(BoostStage.id)
    )
    if not claimed:  # another run made one first: use that
        await Mailing.delete().where(Mailing.id == mailing_id)
        existing = await BoostStage.select(BoostStage.mailing).where(BoostStage.id == row["stage"]).first()
        assert existing is not None
        return existing["mailing"]
    return mailing_id


# -- pooled reach -------------------------------------------------------------------------------

_UNSPLIT = """
SELECT s.id, s.boost, s.number, s.size, s.allocated, b.petition FROM boost_stage s
JOIN boost b ON b.id = s.boost JOIN petition p ON p.id = b.petition
WHERE s.split_at IS NULL AND s.closed_at IS NULL AND s.filled_at IS NULL
  AND b.status IN ('candidate', 'running') AND p.status = 'published'
ORDER BY s.id
"""


async def share_with_partners(now: datetime, policy: BoostPolicy) -> None:
    """Split every stage not yet dealt out between this node and its reach partners
    (core.boost.remote); a no-op without partners, so a lone node runs as it always has."""
    if not await boosts_with_partners():
        return
    for stage in await BoostStage.raw(_UNSPLIT):
        local = await count_remaining(await petition_scope(stage["petition"]))
        await dispatch_stage(
            stage,
            petition_id=stage["petition"],
            local_eligible=local,
            k_min=policy.remote_k_min,
            window_seconds=policy.window_seconds,
            now=now,
        )


async def pooled_note(stage_id: int) -> str:
    """The decision sentence's note on a pooled stage: where its deliveries came from and
    which partners were left out."""
    stage = await BoostStage.select().where(BoostStage.id == stage_id).first()
    if stage is None:
        return ""
    remote = await stage_totals(stage_id)
    return remote.note(stage["deliveries"] - remote.deliveries)


# -- the pass -----------------------------------------------------------------------------------


async def run_boosts(
    now: datetime | None = None, policy: BoostPolicy | None = None, *, simulated: bool = False
) -> RunReport:
    """One pass of the engine (see the module docstring). Safe to run again at any time.
    `simulated` records the emails of this pass as delivered without sending them (the demo)."""
    now = now or datetime.now(UTC)
    policy = policy or await current_policy()
    report = RunReport()
    report.halted = await halt_unpublished(now, policy)
    report.qualified = await qualify(now, policy)
    await open_windows(now, policy)
    report.decided = await close_windows(now, policy)
    await share_with_partners(now, policy)
    report.mailed = await deal_out(now, policy, simulated=simulated)
    # A stage dealt out completely this pass may open its window at once (nothing to send).
    await open_windows(now, policy)
    return report


@periodic("boost.run", every_seconds=RUN_EVERY_S)
async def run_boosts_job(_: OutboxWork) -> None:
    report = await run_boosts()
    if report.halted or report.qualified or report.decided or report.mailed:
        log.info(
            "boosts: halted %s, new candidates %s, decided %s, mailed %s",
            report.halted,
            report.qualified,
            report.decided,
            report.mailed,
        )


__all__ = ["ACTIVE_STATUSES", "RunReport", "current_policy", "run_boosts"]
