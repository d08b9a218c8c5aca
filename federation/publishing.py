"""What a node tells the federation about petitions: a versioned, origin-signed copy of its
own petitions when one is published, updated or closed (core events), and the signatures it
collected itself on any petition, its own or a copy.

An instance sends to its hub; the hub sends its own petitions and reports to every approved
instance (active ones at once, suspended ones when they are unsuspended: their events wait).
Only local petitions are published (a copy received from elsewhere has `origin_node` set).
The copy carries text, targets without contact details, goal, scope, status and the URL — the
member-data guard in `build_event` refuses anything else.

A count report (`petition.counts`) carries ONLY this node's local signatures
(`local_signatures`, which leaves out the external shard holding other nodes' reports):
reporting a total that included others' reports would feed them back and count them twice.
Reports are sent when the local count changes: a signature schedules one a few seconds later
(so a burst is one report), and a periodic job compares every petition's local count with the
last one reported.
"""

from __future__ import annotations

import time
from typing import Any

from core.plugin_api import (
    Event,
    Group,
    Petition,
    PetitionTarget,
    enqueue,
    instance_settings,
    local_signatures,
    transaction,
)
from federation.identity import load_identity
from federation.outbound import peers_with_role, queue_event, stable_event_id
from federation.tables import FederationPeer, FederationReport

COUNTS_TOPIC = "federation.counts"
COUNTS_DEBOUNCE_SECONDS = 3
SCOPE_FIELDS = {"region": "region", "district": "district", "postal": "postal_prefix"}


async def approved_instances() -> list[str]:
    """(hub) The instances events go to: approved ones, active or suspended (a suspended
    peer's events wait in its queue); never a pending one, which the admin has not approved."""
    rows = await FederationPeer.select(FederationPeer.node_id).where(
        (FederationPeer.role == "instance") & FederationPeer.status.is_in(["active", "suspended"])
    )
    return [r["node_id"] for r in rows]


async def recipients() -> list[str]:
    """Where this node's own petitions and count reports go: an instance's hub, or (on the
    hub) every approved instance."""
    if load_identity().role == "hub":
        return await approved_instances()
    return await peers_with_role("hub")


def _ts(moment: Any) -> int:
    return int(moment.timestamp()) if moment is not None else 0


async def petition_copy(petition: Petition) -> dict[str, Any]:
    """The `petition` object of petition.published / petition.updated."""
    targets = await (
        PetitionTarget.select(PetitionTarget.name, PetitionTarget.title, PetitionTarget.postal_area)
        .where(PetitionTarget.petition == petition.id)
        .order_by(PetitionTarget.position)
    )
    copy: dict[str, Any] = {
        "id": str(petition.id),
        "version": max(1, petition.version),
        "slug": petition.slug,
        "title": petition.title,
        "body": petition.body,
        "targets": [
            {
                k: v
                for k, v in {"name": t["name"], "title": t["title"], "postal_area": t["postal_area"]}.items()
                if v
            }
            for t in targets
        ],
        "goal": petition.goal,
        "status": petition.status,
        "url": f"{instance_settings().public_url}/p/{petition.slug}",
        "published_at": _ts(petition.published_at or petition.created_at),
        "updated_at": _ts(petition.updated_at),
    }
    field = SCOPE_FIELDS.get(petition.scope_kind)
    if field and petition.scope_value:
        copy["scope"] = {field: petition.scope_value}
    if petition.group:
        group = await Group.select(Group.id, Group.name).where(Group.id == petition.group).first()
        if group:
            copy["group"] = {"id": str(group["id"]), "name": group["name"]}
    return copy


async def _local_petition(petition_id: Any) -> Petition | None:
    if not isinstance(petition_id, int):
        return None
    petition = await Petition.objects().where(Petition.id == petition_id).first()
    if petition is None or petition.origin_node:
        return None  # gone, or a copy of another node's petition: not ours to publish
    return petition


async def on_petition_changed(event: Event) -> None:
    """petition.published / petition.updated: send the current text (with its version: if a
    later change already went out, the receiver keeps the newer one)."""
    peers = await recipients()
    petition = await _local_petition(event.data.get("petition_id"))
    if not peers or petition is None or petition.status not in ("published", "closed", "delivered"):
        return
    kind = "petition.published" if event.name == "petition.published" else "petition.updated"
    async with transaction():
        await queue_text(petition, kind, peers)
    await schedule_counts(petition.id)


async def queue_text(petition: Petition, kind: str, peers: list[str]) -> None:
    node_id = load_identity().node_id
    await queue_event(
        kind,
        {"petition": await petition_copy(petition)},
        peers,
        event_id=stable_event_id(node_id, kind, petition.id, petition.version),
    )


async def on_petition_closed(event: Event) -> None:
    """petition.closed / petition.delivered / petition.taken_down: the petition stops taking
    signatures; a petition our staff took down is withdrawn everywhere it was copied."""
    peers = await recipients()
    petition = await _local_petition(event.data.get("petition_id"))
    if not peers or petition is None or petition.status not in ("closed", "delivered", "rejected"):
        return
    async with transaction():
        await queue_closed(petition, peers)
    await report_counts(petition.id)


async def queue_closed(petition: Petition, peers: list[str]) -> None:
    node_id = load_identity().node_id
    payload = {
        "petition": {"origin": node_id, "id": str(petition.id)},
        "version": max(1, petition.version),
        "closed_at": _ts(petition.closed_at or petition.updated_at),
        "status": "withdrawn" if petition.status == "rejected" else petition.status,
    }
    await queue_event(
        "petition.closed",
        payload,
        peers,
        event_id=stable_event_id(node_id, "petition.closed", petition.id, petition.version),
    )


async def on_signature(event: Event) -> None:
    """signature.created / confirmed: a count report soon (one per petition per few seconds),
    on any petition: a signature on a copy counts towards the federation-wide total."""
    petition_id = event.data.get("petition_id")
    if isinstance(petition_id, int) and await recipients():
        await schedule_counts(petition_id)


async def schedule_counts(petition_id: int) -> None:
    bucket = int(time.time() // COUNTS_DEBOUNCE_SECONDS) if COUNTS_DEBOUNCE_SECONDS else time.time_ns()
    await enqueue(
        COUNTS_TOPIC,
        f"{COUNTS_TOPIC}:{petition_id}:{bucket}",
        {"petition_id": petition_id},
        delay=COUNTS_DEBOUNCE_SECONDS,
    )


async def _reportable(petition_id: int) -> Petition | None:
    petition = await Petition.objects().where(Petition.id == petition_id).first()
    if petition is None or petition.status not in ("published", "closed", "delivered"):
        return None
    return petition


def petition_ref(petition: Petition, node_id: str) -> dict[str, str]:
    """The federation-wide reference of a petition: the origin's node id and local id."""
    if petition.origin_node:
        return {"origin": petition.origin_node, "id": petition.origin_id}
    return {"origin": node_id, "id": str(petition.id)}


def counts_payload(petition: Petition, node_id: str, sequence: int, as_of: int, local: int) -> dict[str, Any]:
    return {
        "petition": petition_ref(petition, node_id),
        "sequence": sequence,
        "as_of": as_of,
        "signatures": local,
    }


async def report_counts(petition_id: int, now: float | None = None) -> bool:
    """Queue a petition.counts report of this node's local signatures if they changed since
    the last report. A copy nobody signed here is not reported (there is nothing to add)."""
    now = time.time() if now is None else now
    peers = await recipients()
    petition = await _reportable(petition_id)
    if not peers or petition is None:
        return False
    local = await local_signatures(petition_id)
    node_id = load_identity(now).node_id
    async with transaction():
        last = await FederationReport.objects().where(FederationReport.petition_id == petition_id).first()
        if last is not None and last.total == local:
            return False
        if last is None and local == 0 and petition.origin_node:
            return False
        sequence = (last.sequence if last else 0) + 1
        if last is None:
            await FederationReport.insert(
                FederationReport(petition_id=petition_id, sequence=sequence, total=local, reported_at=now)
            )
        else:
            await FederationReport.update(
                {
                    FederationReport.sequence: sequence,
                    FederationReport.total: local,
                    FederationReport.reported_at: now,
                }
            ).where(FederationReport.id == last.id)
        await queue_event(
            "petition.counts",
            counts_payload(petition, node_id, sequence, int(now), local),
            peers,
            event_id=stable_event_id(node_id, "petition.counts", petition_id, sequence),
            now=now,
        )
    return True


async def report_all_counts(now: float | None = None) -> int:
    """The periodic comparison: every public petition (own or copy) whose local count moved."""
    if not await recipients():
        return 0
    rows = await Petition.select(Petition.id).where(
        Petition.status.is_in(["published", "closed", "delivered"])
    )
    reported = 0
    for row in rows:
        reported += await report_counts(row["id"], now)
    return reported


async def republish_to(peers: list[str], now: float | None = None) -> None:
    """The current state of this node's own petitions and the latest report of its local
    signatures on every petition, for a peer that was not there when they went out: an
    instance the hub approves, or the hub an instance joins. The event ids are the original
    ones, so a peer that had them already is not sent them twice."""
    now = time.time() if now is None else now
    if not peers:
        return
    node_id = load_identity(now).node_id
    own = await Petition.objects().where(
        (Petition.origin_node == "") & Petition.status.is_in(["published", "closed", "delivered"])
    )
    for petition in own:
        await queue_text(petition, "petition.published", peers)
        if petition.status in ("closed", "delivered"):
            await queue_closed(petition, peers)
    for report in await FederationReport.objects().order_by(FederationReport.id):
        petition = await _reportable(report.petition_id)
        if petition is None:
            continue
        await queue_event(
            "petition.counts",
            counts_payload(petition, node_id, report.sequence, int(report.reported_at), report.total),
            peers,
            event_id=stable_event_id(node_id, "petition.counts", report.petition_id, report.sequence),
            now=now,
        )
