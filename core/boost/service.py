"""Boosts as people see and steer them: what a petition's leader reads on the dashboard, the
staff overview, and staff's overrules (turbocharge, hold, resume, stop, exclude).

A staff action is taken on the numbers of that moment (core.boost.staff_decision) and logged
like the engine's own decisions, with who took it. Acting on a boost that has ended is refused
with a message saying how it ended, since nothing would change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.boost import Action, StaffAction, staff_decision
from core.boost.remote import remote_shares_of
from core.boost.runner import (
    apply_decision,
    benchmark,
    close_stage,
    current_policy,
    end_boost,
    numbers_part,
    open_stage,
    outcomes,
    pooled_remaining,
    stages_of,
    write_log,
)
from core.boost.tables import FINAL_STATUSES, Boost, BoostDay, BoostDecisionLog
from core.errors import Conflict, NotFound, UserError
from core.petitions import counter
from core.petitions.tables import Petition

STAFF_ACTIONS = tuple(a.value for a in StaffAction)
# What each action may follow.
_ALLOWED = {
    StaffAction.TURBOCHARGE: ("candidate", "running", "held"),
    StaffAction.HOLD: ("candidate", "running"),
    StaffAction.RESUME: ("held",),
    StaffAction.STOP: ("candidate", "running", "held"),
    StaffAction.EXCLUDE: ("candidate", "running", "held"),
}
_ENDED_WORDS = {"stopped": "was stopped", "finished": "has finished", "excluded": "was excluded"}
STATUS_WORDS = {
    "candidate": "qualifies for a member sample",
    "running": "being mailed to members",
    "held": "on hold",
    "stopped": "stopped",
    "finished": "finished: every eligible member was asked",
    "excluded": "excluded from boosts",
}
LOG_SHOWN = 50


async def _boost(boost_id: int) -> dict[str, Any]:
    if not 0 < boost_id < 2**31:
        raise NotFound("There is no such boost.")
    row = await Boost.select().where(Boost.id == boost_id).first()
    if row is None:
        raise NotFound("There is no such boost.")
    return row


async def staff_act(boost_id: int, action: str, *, by: str, now: datetime | None = None) -> str:
    """Apply a staff action; returns the logged sentence. UserError for an unknown action,
    Conflict for one the boost's state does not allow (an ended boost, resuming one that is
    not held)."""
    try:
        staff_action = StaffAction(action)
    except ValueError:
        raise UserError(f"Choose one of: {', '.join(STAFF_ACTIONS)}.") from None
    now = now or datetime.now(UTC)
    boost = await _boost(boost_id)
    status = boost["status"]
    if status not in _ALLOWED[staff_action]:
        if status in FINAL_STATUSES:
            raise Conflict(
                f"This boost {_ENDED_WORDS[status]} ({boost['ended_reason'] or status}); "
                f"{staff_action.value} would change nothing. Nothing more will be sent for this petition."
            )
        if staff_action is StaffAction.RESUME:
            raise Conflict("Only a boost on hold can be resumed; this one is not on hold.")
        raise Conflict(f"This boost is already {STATUS_WORDS[status]}.")

    policy = await current_policy()
    bench = await benchmark(policy, excluding=boost_id)
    stages = await stages_of(boost_id)
    current = open_stage(stages)
    remaining = await pooled_remaining(boost_id, boost["petition"])
    if staff_action is StaffAction.TURBOCHARGE and current is not None and current["filled_at"] is not None:
        # The open stage is all out: count it now, so the expansion builds on what it brought.
        await close_stage(current, boost, until=now, now=now)
        stages = await stages_of(boost_id)
        current = None
    decision = staff_decision(staff_action, outcomes(stages), bench, remaining, policy)
    after = max((s["number"] for s in stages if s["closed_at"] is not None), default=0)

    if staff_action is StaffAction.TURBOCHARGE:
        if current is not None and decision.action is Action.EXPAND:
            # Grow the stage being dealt out, and serve it first.
            size = max(current["size"], current["allocated"] + decision.next_stage_size)
            await write_log(
                boost_id,
                after,
                decision.action.value,
                decision.sentence,
                {**decision.as_log(), "remaining": remaining, "benchmark": bench.as_log()},
                by_staff=by,
                now=now,
            )
            await _set_stage_size(current["id"], size)
            await Boost.update(
                {Boost.turbocharged: True, Boost.status: _live_status(stages), Boost.updated_at: now}
            ).where(Boost.id == boost_id)
            return decision.sentence
        await apply_decision(
            boost, decision, after_stage=after, remaining=remaining, bench=bench, now=now, by_staff=by
        )
        if decision.action is Action.EXPAND:
            await Boost.update({Boost.turbocharged: True}).where(Boost.id == boost_id)
        return decision.sentence

    if staff_action is StaffAction.RESUME:
        if current is not None:
            sentence = f"staff resumed: {numbers_part(decision)} → stage {current['number']} continues"
            await write_log(
                boost_id,
                after,
                "resume",
                sentence,
                {
                    **decision.as_log(),
                    "action": "resume",
                    "remaining": remaining,
                    "benchmark": bench.as_log(),
                },
                by_staff=by,
                now=now,
            )
            await Boost.update({Boost.status: _live_status(stages), Boost.updated_at: now}).where(
                Boost.id == boost_id
            )
            return sentence
        await Boost.update({Boost.status: _live_status(stages)}).where(Boost.id == boost_id)
        await apply_decision(
            boost, decision, after_stage=after, remaining=remaining, bench=bench, now=now, by_staff=by
        )
        return decision.sentence

    if staff_action is StaffAction.HOLD:
        await apply_decision(
            boost, decision, after_stage=after, remaining=remaining, bench=bench, now=now, by_staff=by
        )
        return decision.sentence

    # Stop or exclude: the boost ends, and the open stage's unsent emails are skipped.
    await write_log(
        boost_id,
        after,
        decision.action.value,
        decision.sentence,
        {**decision.as_log(), "remaining": remaining, "benchmark": bench.as_log()},
        by_staff=by,
        now=now,
    )
    await end_boost(
        boost_id, "excluded" if staff_action is StaffAction.EXCLUDE else "stopped", decision.sentence, now=now
    )
    return decision.sentence


def _live_status(stages: list[dict[str, Any]]) -> str:
    return "running" if any(s["allocated"] for s in stages) else "candidate"


async def _set_stage_size(stage_id: int, size: int) -> None:
    from core.boost.tables import BoostStage

    await BoostStage.update({BoostStage.size: size}).where(BoostStage.id == stage_id)


# -- what people see ----------------------------------------------------------------------------


async def decision_log(boost_id: int, *, limit: int = LOG_SHOWN) -> list[dict[str, Any]]:
    """Newest first."""
    return await (
        BoostDecisionLog.select(
            BoostDecisionLog.stage,
            BoostDecisionLog.action,
            BoostDecisionLog.by_staff,
            BoostDecisionLog.sentence,
            BoostDecisionLog.created_at,
        )
        .where(BoostDecisionLog.boost == boost_id)
        .order_by(BoostDecisionLog.id, ascending=False)
        .limit(limit)
    )


def _stage_rows(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for s in stages:
        if s["closed_at"] is not None:
            state = "counted"
        elif s["window_ends_at"] is not None:
            state = "counting signatures"
        elif s["allocated"]:
            state = "sending"
        else:
            state = "waiting for today's budget"
        rows.append({**s, "state": state})
    return rows


async def leader_view(petition_id: int) -> dict[str, Any]:
    """The petition's boost as its leader sees it: whether it qualifies, its status and the
    decision log (staff logins are not shown to leaders)."""
    policy = await current_policy()
    petition = await Petition.select(Petition.status).where(Petition.id == petition_id).first()
    boost = await Boost.select().where(Boost.petition == petition_id).first()
    if boost is None:
        total = await counter.total(petition_id)
        return {
            "boost": None,
            "threshold": policy.threshold,
            "to_go": max(policy.threshold - total, 0),
            "published": bool(petition and petition["status"] == "published"),
        }
    stages = await stages_of(boost["id"])
    entries = await decision_log(boost["id"])
    return {
        "boost": boost,
        "status_words": STATUS_WORDS[boost["status"]],
        "qualifies": boost["status"] in ("candidate", "running", "held"),
        "stages": _stage_rows(stages),
        "log": [{"at": e["created_at"], "sentence": e["sentence"]} for e in entries],
        "emails": sum(s["allocated"] for s in stages),
        "signatures": sum(s["signatures"] for s in stages),
        "threshold": policy.threshold,
    }


async def staff_overview(now: datetime | None = None) -> dict[str, Any]:
    """Every boost, the live ones first ranked by their posterior mean sign rate (what the
    allocation favours), each with its stages and log; and today's budget."""
    now = now or datetime.now(UTC)
    policy = await current_policy()
    bench = await benchmark(policy)
    boosts = await Boost.select(
        Boost.all_columns(), Boost.petition.title.as_alias("title"), Boost.petition.slug.as_alias("slug")
    )
    items = []
    for boost in boosts:
        stages = await stages_of(boost["id"])
        closed = outcomes(stages)
        deliveries = sum(o.deliveries for o in closed)
        signatures = min(sum(o.signatures for o in closed), deliveries)
        mean = (bench.alpha + signatures) / (bench.alpha + bench.beta + deliveries)
        items.append(
            {
                **boost,
                "status_words": STATUS_WORDS[boost["status"]],
                "live": boost["status"] in ("candidate", "running", "held"),
                "stages": _stage_rows(stages),
                "log": await decision_log(boost["id"], limit=20),
                "shares": await remote_shares_of(boost["id"]),
                "estimate": mean,
                "deliveries": deliveries,
                "signatures": sum(o.signatures for o in closed),
            }
        )
    items.sort(key=lambda b: (not b["live"], not b["turbocharged"], -b["estimate"], b["id"]))
    day = await BoostDay.select().where(BoostDay.day == now.astimezone(UTC).date()).first()
    return {
        "boosts": items,
        "benchmark": bench,
        "policy": policy,
        "today": {"budget": day["budget"], "used": day["used"]} if day else None,
        "actions": STAFF_ACTIONS,
    }
