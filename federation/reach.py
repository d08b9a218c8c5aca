"""Reach reports: an instance tells the hub how many of its members a federation-wide boost
could mail, so the hub can share a stage out in proportion (core.boost.remote).

Only an aggregate crosses, and a coarse one: the count of members eligible for boost email
(core's `boost_reach`: subscribed, consented, address not suppressed, campaign email on),
rounded to the nearest ten, and 0 below a floor of `REACH_FLOOR` (a handful of members could
be singled out) or when the instance's admin turned federation-wide boosts off. A report
goes when the figure has moved materially (`MATERIAL_CHANGE`) and at least every
`REFRESH_SECONDS`; the hub keeps the latest per instance (by sequence) and treats an
instance whose last report is older than `RECENT_SECONDS` as no partner at all.
"""

from __future__ import annotations

import time
from typing import Any

from core.plugin_api import boost_reach, transaction
from federation.events import Event
from federation.identity import load_identity
from federation.outbound import peers_with_role, queue_event, stable_event_id
from federation.reach_tables import FederationReach
from federation.tables import FederationPeer

ROUNDING = 10
REACH_FLOOR = 20
MATERIAL_CHANGE = 0.10  # a tenth of the last figure (and at least one rounding step)
REFRESH_SECONDS = 3600
RECENT_SECONDS = 3 * REFRESH_SECONDS


def rounded_reach(eligible: int) -> int:
    """What may be said of `eligible`: to the nearest ten, and nothing below the floor."""
    if eligible < REACH_FLOOR:
        return 0
    return (eligible + ROUNDING // 2) // ROUNDING * ROUNDING


def moved_materially(last: int, now: int) -> bool:
    return abs(now - last) >= max(ROUNDING, MATERIAL_CHANGE * last)


async def report_reach(now: float | None = None) -> bool:
    """Instance side: queue a reach.report for the hub if the figure moved materially, none
    was sent yet, or the last one is getting old. True if one was queued."""
    now = time.time() if now is None else now
    identity = load_identity(now)
    hubs = await peers_with_role("hub")
    if identity.role == "hub" or not hubs:
        return False
    eligible = rounded_reach(await boost_reach())
    async with transaction():
        last = await FederationReach.objects().where(FederationReach.node_id == identity.node_id).first()
        if last is not None and not (
            moved_materially(last.eligible, eligible) or now - last.as_of >= REFRESH_SECONDS
        ):
            return False
        sequence = (last.sequence if last else 0) + 1
        values = {
            FederationReach.sequence: sequence,
            FederationReach.as_of: now,
            FederationReach.eligible: eligible,
            FederationReach.received_at: now,
        }
        if last is None:
            await FederationReach.insert(
                FederationReach(node_id=identity.node_id, sequence=sequence, as_of=now, eligible=eligible)
            )
        else:
            await FederationReach.update(values).where(FederationReach.id == last.id)
        await queue_event(
            "reach.report",
            {"sequence": sequence, "as_of": int(now), "eligible": eligible},
            hubs,
            event_id=stable_event_id(identity.node_id, "reach.report", sequence),
            now=now,
        )
    return True


async def apply_reach_report(event: Event, now: float) -> str:
    """Hub side: keep an instance's latest figure (a report not newer than the one held
    changes nothing). Reports from nodes that are not paired instances are ignored."""
    peer = await (
        FederationPeer.select(FederationPeer.role).where(FederationPeer.node_id == event.origin).first()
    )
    if peer is None or peer["role"] != "instance" or load_identity(now).role != "hub":
        return "ok"
    payload = event.payload
    await FederationReach.insert(FederationReach(node_id=event.origin)).on_conflict(
        target=FederationReach.node_id, action="DO NOTHING"
    )
    await FederationReach.update(
        {
            FederationReach.sequence: payload["sequence"],
            FederationReach.as_of: float(payload["as_of"]),
            FederationReach.eligible: payload["eligible"],
            FederationReach.received_at: now,
        }
    ).where((FederationReach.node_id == event.origin) & (FederationReach.sequence < payload["sequence"]))
    return "ok"


async def recent_reach(now: float | None = None) -> list[dict[str, Any]]:
    """Hub side: active instance peers with a recent report, and their figures."""
    now = time.time() if now is None else now
    peers = {
        row["node_id"]: row
        for row in await FederationPeer.select(FederationPeer.node_id, FederationPeer.origin).where(
            (FederationPeer.role == "instance") & (FederationPeer.status == "active")
        )
    }
    if not peers:
        return []
    rows = await FederationReach.select().where(
        FederationReach.node_id.is_in(list(peers)) & (FederationReach.as_of >= now - RECENT_SECONDS)
    )
    return [{**row, "origin": peers[row["node_id"]]["origin"]} for row in rows]
