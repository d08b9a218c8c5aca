"""Pooled reach, the hub's side: the federation's instances as the boost engine's reach
partners (core.boost.remote), `boost.request` out and `boost.report` in.

Partners are active instance peers with a recent reach report (federation.reach). A share is
dispatched as a hub-signed `boost.request` queued for that instance alone: `boost_id` is the
engine's request id for the stage (the same on every retry), `deliver_by` the end of the
stage's window, `k_min` the boost policy's. The petition is named as every node knows it:
{origin, id} of the origin's petition (for the hub's own petitions, the hub). Reports are
cumulative with a sequence; core records a report only if it is newer than the last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core.plugin_api import (
    Petition,
    ReachPartner,
    RemoteShare,
    plugin_logger,
    record_remote_stage_result,
    register_reach_provider,
)
from federation.events import Event
from federation.identity import load_identity
from federation.outbound import queue_event, stable_event_id
from federation.reach import recent_reach

log = plugin_logger("federation")


async def petition_ref(petition_id: int) -> dict[str, str] | None:
    """{origin, id} of a petition as every node names it; None if it is gone."""
    row = await (
        Petition.select(Petition.id, Petition.origin_node, Petition.origin_id)
        .where(Petition.id == petition_id)
        .first()
    )
    if row is None:
        return None
    if row["origin_node"]:
        return {"origin": row["origin_node"], "id": row["origin_id"]}
    return {"origin": load_identity().node_id, "id": str(row["id"])}


class FederationReachProvider:
    """The hub's instances as reach partners; on an instance there are none."""

    async def partners(self) -> Sequence[ReachPartner]:
        if load_identity().role != "hub":
            return []
        return [
            ReachPartner(key=row["node_id"], label=row["origin"], eligible=int(row["eligible"]))
            for row in await recent_reach()
            if row["eligible"] > 0
        ]

    async def dispatch(self, share: RemoteShare) -> None:
        petition = await petition_ref(share.petition_id)
        if petition is None:
            log.warning("boost request %s not sent: petition %s is gone", share.request_id, share.petition_id)
            return
        hub = load_identity().node_id
        await queue_event(
            "boost.request",
            {
                "boost_id": share.request_id,
                "petition": petition,
                "target_count": share.target_count,
                "deliver_by": int(share.deliver_by.timestamp()),
                "k_min": share.k_min,
            },
            [share.partner],
            event_id=stable_event_id(hub, "boost.request", share.request_id, share.partner),
        )


async def apply_boost_report(event: Event, now: float) -> str:
    """boost.report from an instance: its cumulative result for the share it was asked for
    (older or repeated reports, and reports for shares never asked of it, change nothing)."""
    payload = event.payload
    await record_remote_stage_result(
        payload["boost_id"],
        event.origin,
        sequence=payload["sequence"],
        sent=payload["sent"],
        signed=payload["signed"],
        unsubscribed=payload["unsubscribed"],
        refused=payload["refused"],
        now=datetime.fromtimestamp(now, UTC),
    )
    return "ok"


PROVIDER = FederationReachProvider()


def register() -> None:
    """Offer the federation's instances to the boost engine (while the plugin is active)."""
    register_reach_provider("federation", PROVIDER)
