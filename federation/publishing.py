"""What an instance tells its hub about its own petitions: a versioned, origin-signed copy
when one is published, updated or closed (core events), and cumulative signature counts.

Only local petitions are sent (a copy received from elsewhere has `origin_node` set). The
copy carries text, targets without contact details, goal, scope, status and the URL — the
member-data guard in `build_event` refuses anything else. Counts are reported when they
change: a signature schedules a report a few seconds later (so a burst of signatures is one
report), and a periodic job compares every petition's total with the last reported value.
"""

from __future__ import annotations

import time
from typing import Any

from core.plugin_api import (
    Event,
    Group,
    Petition,
    PetitionTarget,
    SignatureCount,
    enqueue,
    instance_settings,
    transaction,
)
from federation.identity import load_identity
from federation.outbound import peers_with_role, queue_event, stable_event_id
from federation.tables import FederationReport

COUNTS_TOPIC = "federation.counts"
COUNTS_DEBOUNCE_SECONDS = 3
SCOPE_FIELDS = {"region": "region", "district": "district", "postal": "postal_prefix"}


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
    later change already went out, the hub keeps the newer one)."""
    hubs = await peers_with_role("hub")
    petition = await _local_petition(event.data.get("petition_id"))
    if not hubs or petition is None or petition.status not in ("published", "closed", "delivered"):
        return
    kind = "petition.published" if event.name == "petition.published" else "petition.updated"
    node_id = load_identity().node_id
    async with transaction():
        await queue_event(
            kind,
            {"petition": await petition_copy(petition)},
            hubs,
            event_id=stable_event_id(node_id, kind, petition.id, petition.version),
        )
    await schedule_counts(petition.id)


async def on_petition_closed(event: Event) -> None:
    """petition.closed / petition.delivered: the final status."""
    hubs = await peers_with_role("hub")
    petition = await _local_petition(event.data.get("petition_id"))
    if not hubs or petition is None or petition.status not in ("closed", "delivered"):
        return
    node_id = load_identity().node_id
    payload = {
        "petition": {"origin": node_id, "id": str(petition.id)},
        "version": max(1, petition.version),
        "closed_at": _ts(petition.closed_at or petition.updated_at),
        "status": petition.status,
    }
    async with transaction():
        await queue_event(
            "petition.closed",
            payload,
            hubs,
            event_id=stable_event_id(node_id, "petition.closed", petition.id, petition.version),
        )
    await report_counts(petition.id)


async def on_signature(event: Event) -> None:
    """signature.created / confirmed: a count report soon (one per petition per few seconds)."""
    petition_id = event.data.get("petition_id")
    if isinstance(petition_id, int) and await peers_with_role("hub"):
        await schedule_counts(petition_id)


async def schedule_counts(petition_id: int) -> None:
    bucket = int(time.time() // COUNTS_DEBOUNCE_SECONDS) if COUNTS_DEBOUNCE_SECONDS else time.time_ns()
    await enqueue(
        COUNTS_TOPIC,
        f"{COUNTS_TOPIC}:{petition_id}:{bucket}",
        {"petition_id": petition_id},
        delay=COUNTS_DEBOUNCE_SECONDS,
    )


async def current_total(petition_id: int) -> int:
    rows = await SignatureCount.select(SignatureCount.count).where(SignatureCount.petition == petition_id)
    return sum(int(r["count"]) for r in rows)


async def report_counts(petition_id: int, now: float | None = None) -> bool:
    """Queue a petition.counts report if the total changed since the last one."""
    now = time.time() if now is None else now
    hubs = await peers_with_role("hub")
    petition = await _local_petition(petition_id)
    if not hubs or petition is None or petition.status not in ("published", "closed", "delivered"):
        return False
    total = await current_total(petition_id)
    node_id = load_identity(now).node_id
    async with transaction():
        last = await FederationReport.objects().where(FederationReport.petition_id == petition_id).first()
        if last is not None and last.total == total:
            return False
        sequence = (last.sequence if last else 0) + 1
        if last is None:
            await FederationReport.insert(
                FederationReport(petition_id=petition_id, sequence=sequence, total=total, reported_at=now)
            )
        else:
            await FederationReport.update(
                {
                    FederationReport.sequence: sequence,
                    FederationReport.total: total,
                    FederationReport.reported_at: now,
                }
            ).where(FederationReport.id == last.id)
        await queue_event(
            "petition.counts",
            {
                "petition": {"origin": node_id, "id": str(petition_id)},
                "sequence": sequence,
                "as_of": int(now),
                "signatures": total,
            },
            hubs,
            event_id=stable_event_id(node_id, "petition.counts", petition_id, sequence),
            now=now,
        )
    return True


async def report_all_counts(now: float | None = None) -> int:
    """The periodic comparison: every local public petition whose total moved."""
    if not await peers_with_role("hub"):
        return 0
    rows = await Petition.select(Petition.id).where(
        (Petition.origin_node == "") & Petition.status.is_in(["published", "closed", "delivered"])
    )
    reported = 0
    for row in rows:
        reported += await report_counts(row["id"], now)
    return reported
