"""Pooled reach, an instance's side: acting on the hub's `boost.request` and reporting back.

A request is recorded once (`federation_boost_request`, keyed by hub and boost_id), then acted
on outside the inbound transaction: when this instance holds the petition (its local copy, or
the petition itself when it originated here), core mails the sample (`mail_hosted_sample`:
eligible members ranked by HMAC(this instance's secret, request ‖ member id), first
`target_count`, refused below `k_min` or when the admin turned hub boosts off) from this
instance's own address, linking to its own page for the petition. A copy that has not arrived
yet is waited for until `deliver_by`; then the request is refused.

Reports are `boost.report` events to the hub with cumulative `sent`, `signed` and
`unsubscribed` and a sequence that only grows; each is sent when a figure changed, until
`deliver_by` plus the hub's window (deliver_by − the request's creation). A cell between 1 and
k_min − 1 is sent as null (suppressed): a small count could point at someone. Zero says
nothing about anyone and is sent as 0.
"""

from __future__ import annotations

import time
from typing import Any

from core.plugin_api import (
    Petition,
    enqueue,
    hosted_results,
    mail_hosted_sample,
    plugin_logger,
    transaction,
)
from federation.events import Event
from federation.identity import load_identity
from federation.outbound import queue_event, stable_event_id
from federation.reach_tables import FederationBoostRequest
from federation.tables import FederationPeer

log = plugin_logger("federation")

PROCESS_TOPIC = "federation.boost_request"
MIN_REPORT_WINDOW = 60
NOT_ARRIVED = "the petition had not reached this instance by deliver_by"


def suppressed(value: int | None, k_min: int) -> int | None:
    """A count as it may cross: itself, 0, or null when it is below k_min."""
    if value is None or 0 < value < k_min:
        return None
    return value


async def apply_boost_request(event: Event, now: float) -> str:
    """boost.request: record it (once) and act on it after this transaction commits. Only the
    hub this instance is paired with may ask."""
    peer = await (
        FederationPeer.select(FederationPeer.role).where(FederationPeer.node_id == event.origin).first()
    )
    if peer is None or peer["role"] != "hub" or load_identity(now).role == "hub":
        return "not_allowed"
    payload = event.payload
    key = f"{event.origin} {payload['boost_id']}"
    window = max(payload["deliver_by"] - event.created, MIN_REPORT_WINDOW)
    inserted = await (
        FederationBoostRequest.insert(
            FederationBoostRequest(
                key=key,
                hub=event.origin,
                boost_id=payload["boost_id"],
                petition_origin=payload["petition"]["origin"],
                petition_ref=payload["petition"]["id"],
                target_count=payload["target_count"],
                k_min=payload["k_min"],
                deliver_by=float(payload["deliver_by"]),
                report_until=float(payload["deliver_by"] + window),
                received_at=now,
            )
        )
        .on_conflict(target=FederationBoostRequest.key, action="DO NOTHING")
        .returning(FederationBoostRequest.id)
    )
    if inserted:
        await enqueue(PROCESS_TOPIC, f"{PROCESS_TOPIC}:{inserted[0]['id']}", {"request": inserted[0]["id"]})
    return "ok"


async def local_petition(request: FederationBoostRequest) -> int | None:
    """This instance's petition for the request: its copy, or its own petition."""
    if request.petition_origin == load_identity().node_id:
        if not request.petition_ref.isdigit():
            return None
        row = await (
            Petition.select(Petition.id)
            .where((Petition.id == int(request.petition_ref)) & (Petition.origin_node == ""))
            .first()
        )
    else:
        row = await (
            Petition.select(Petition.id)
            .where(
                (Petition.origin_node == request.petition_origin)
                & (Petition.origin_id == request.petition_ref)
            )
            .first()
        )
    return row["id"] if row else None


async def process_request(request_id: int, now: float | None = None) -> str:
    """Mail a waiting request's sample if its petition is here, then report. Returns the
    request's status."""
    now = time.time() if now is None else now
    request = await FederationBoostRequest.objects().where(FederationBoostRequest.id == request_id).first()
    if request is None:
        return "gone"
    if request.status == "waiting":
        petition_id = await local_petition(request)
        if petition_id is None:
            if now <= request.deliver_by:
                return "waiting"  # the periodic pass looks again
            await _refuse(request, NOT_ARRIVED)
        elif not await _claim(request.id):
            return "claimed"  # another worker is mailing it
        else:
            sample = await mail_hosted_sample(
                petition_id,
                request.key,
                target_count=request.target_count,
                k_min=request.k_min,
            )
            if sample.refused:
                await _refuse(request, sample.refused, petition_id)
            else:
                await FederationBoostRequest.update(
                    {
                        FederationBoostRequest.status: "mailed",
                        FederationBoostRequest.petition_id: petition_id,
                        FederationBoostRequest.mailing_id: sample.mailing_id,
                        FederationBoostRequest.queued: sample.queued,
                    }
                ).where(FederationBoostRequest.id == request.id)
        request = await FederationBoostRequest.objects().get(FederationBoostRequest.id == request_id)
        assert request is not None
    await report(request, now)
    return request.status


async def _claim(request_id: int) -> bool:
    """Only one worker mails a request: the claim is a conditional update, and the handlers
    run it in the same transaction as the mailing, so a crash rolls the claim back too."""
    claimed = await (
        FederationBoostRequest.update({FederationBoostRequest.status: "mailing"})
        .where((FederationBoostRequest.id == request_id) & (FederationBoostRequest.status == "waiting"))
        .returning(FederationBoostRequest.id)
    )
    return bool(claimed)


async def _refuse(request: FederationBoostRequest, reason: str, petition_id: int | None = None) -> None:
    log.info("hub boost request %s refused: %s", request.key, reason)
    await FederationBoostRequest.update(
        {
            FederationBoostRequest.status: "refused",
            FederationBoostRequest.reason: reason[:500],
            FederationBoostRequest.refused: True,
            FederationBoostRequest.petition_id: petition_id,
        }
    ).where(FederationBoostRequest.id == request.id)


async def report(request: FederationBoostRequest, now: float) -> bool:
    """Queue a boost.report if anything the hub may see changed since the last one."""
    if request.status == "refused":
        cells: dict[str, Any] = {"sent": None, "signed": None, "unsubscribed": None, "refused": True}
    elif request.status in ("mailed", "done") and request.mailing_id is not None:
        results = await hosted_results(request.mailing_id)
        cells = {
            "sent": suppressed(results.sent, request.k_min),
            "signed": suppressed(results.signed, request.k_min),
            "unsubscribed": suppressed(results.unsubscribed, request.k_min),
            "refused": False,
        }
    else:
        return False
    last = {
        "sent": request.sent,
        "signed": request.signed,
        "unsubscribed": request.unsubscribed,
        "refused": request.refused if request.report_sequence else None,
    }
    if request.report_sequence and cells == last:
        return False
    sequence = request.report_sequence + 1
    node_id = load_identity(now).node_id
    async with transaction():
        await FederationBoostRequest.update(
            {
                FederationBoostRequest.report_sequence: sequence,
                FederationBoostRequest.reported_at: now,
                FederationBoostRequest.sent: cells["sent"],
                FederationBoostRequest.signed: cells["signed"],
                FederationBoostRequest.unsubscribed: cells["unsubscribed"],
                FederationBoostRequest.refused: cells["refused"],
            }
        ).where(
            (FederationBoostRequest.id == request.id)
            & (FederationBoostRequest.report_sequence == request.report_sequence)
        )
        await queue_event(
            "boost.report",
            {
                "boost_id": request.boost_id,
                "petition": {"origin": request.petition_origin, "id": request.petition_ref},
                "sequence": sequence,
                "as_of": int(now),
                **cells,
            },
            [request.hub],
            event_id=stable_event_id(node_id, "boost.report", request.key, sequence),
            now=now,
        )
    return True


async def process_open_requests(now: float | None = None) -> int:
    """The periodic pass: waiting requests are tried again, mailed ones report what moved
    until their reporting window ends (then they are done). Returns requests looked at."""
    now = time.time() if now is None else now
    rows = await FederationBoostRequest.select(FederationBoostRequest.id).where(
        FederationBoostRequest.status.is_in(["waiting", "mailed"])
    )
    for row in rows:
        status = await process_request(row["id"], now)
        if status == "mailed":
            await FederationBoostRequest.update({FederationBoostRequest.status: "done"}).where(
                (FederationBoostRequest.id == row["id"]) & (FederationBoostRequest.report_until < now)
            )
    return len(rows)


async def received_requests(limit: int = 50) -> list[dict[str, Any]]:
    """For the admin page: the latest requests with what was sent and the last report."""
    return await (
        FederationBoostRequest.select().order_by(FederationBoostRequest.id, ascending=False).limit(limit)
    )
