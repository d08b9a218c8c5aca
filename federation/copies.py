"""Federated petitions on the receiving node: copies kept as core Petition rows, and the
federation-wide signature total of every petition this node holds.

A copy is an ordinary `Petition` with `origin_node`/`origin_id`/`origin_url` set (columns core
has for exactly this), so the directory, the petition page and the OSDI API show it without
core knowing anything about federation; people can sign it here, and their signatures stay
here. What only federation needs — the highest text version,
status version and count sequence applied, and the count history for "recent growth" — is
kept in `federation_copy`. Because each part carries its own version or sequence, events
may arrive twice or in any order: an older one changes nothing, and a `petition.closed` that
overtakes the text is remembered and applied when the text arrives.

Counts: every node that holds a petition (its origin, the hub, every instance with a copy)
reports its own local signatures on it as `petition.counts` with a sequence. A node keeps the
latest report of each reporter (`federation_count_report`, sequence-checked, so a repeated or
late report changes nothing) and hands their sum to core as the petition's external
signatures (`set_external_signatures`): its total is its local signatures plus every other
node's latest report. Its own reports, echoed back, are ignored, so nothing is counted twice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from core.plugin_api import (
    CopyTarget,
    Petition,
    PetitionCopy,
    save_petition_copy,
    set_external_signatures,
    set_petition_copy_status,
)
from federation.events import Event
from federation.identity import load_identity
from federation.tables import FederationCopy, FederationCountReport, FederationCountSample

DAY = 24 * 3600
_SCOPE_KINDS = (("region", "region"), ("district", "district"), ("postal_prefix", "postal"))


def _when(ts: int | float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts else None


def _scope(scope: dict[str, str] | None) -> tuple[str, str]:
    for field, kind in _SCOPE_KINDS:
        if scope and scope.get(field):
            return kind, scope[field][:100]
    return "national", ""


async def _copy_for(origin: str, origin_id: str, now: float) -> FederationCopy:
    key = f"{origin}:{origin_id}"
    await FederationCopy.insert(
        FederationCopy(key=key, origin_node=origin, origin_id=origin_id, first_seen_at=now, updated_at=now)
    ).on_conflict(target=FederationCopy.key, action="DO NOTHING")
    copy = await FederationCopy.objects().where(FederationCopy.key == key).first()
    assert copy is not None
    return copy


async def apply_text(event: Event, now: float) -> str:
    """petition.published / petition.updated: the versioned text of a petition."""
    data: dict[str, Any] = event.payload["petition"]
    copy = await _copy_for(event.origin, data["id"], now)
    version = data["version"]
    if version <= copy.text_version:
        return "ok"  # a duplicate or an older version: nothing to change
    status = copy.status
    status_version = copy.status_version
    if version > copy.status_version:
        status, status_version = data["status"], version
    scope_kind, scope_value = _scope(data.get("scope"))
    petition = PetitionCopy(
        origin_node=event.origin,
        origin_id=data["id"],
        origin_url=data["url"],
        slug=data["slug"],
        title=data["title"],
        body=data["body"],
        status=status,
        version=version,
        goal=data.get("goal", 0) or 1,
        scope_kind=scope_kind,
        scope_value=scope_value,
        published_at=_when(data["published_at"]),
        updated_at=_when(data["updated_at"]),
        closed_at=_when(copy.closed_at) if status in ("closed", "delivered") else None,
        targets=[
            CopyTarget(t["name"], t.get("title", ""), t.get("postal_area", ""))
            for t in data.get("targets") or []
        ],
    )
    created = copy.petition is None
    petition_id = await save_petition_copy(petition, copy.petition)
    if created:
        await set_external_signatures(petition_id, await external_signatures(copy.key))
    await FederationCopy.update(
        {
            FederationCopy.petition: petition_id,
            FederationCopy.text_version: version,
            FederationCopy.status_version: status_version,
            FederationCopy.status: status,
            FederationCopy.url: data["url"],
            FederationCopy.updated_at: now,
        }
    ).where(FederationCopy.id == copy.id)
    return "ok"


async def apply_closed(event: Event, now: float) -> str:
    """petition.closed: the final status, applied if newer than the status we hold."""
    payload = event.payload
    copy = await _copy_for(event.origin, payload["petition"]["id"], now)
    if payload["version"] <= copy.status_version:
        return "ok"
    await FederationCopy.update(
        {
            FederationCopy.status: payload["status"],
            FederationCopy.status_version: payload["version"],
            FederationCopy.closed_at: float(payload["closed_at"]),
            FederationCopy.updated_at: now,
        }
    ).where(FederationCopy.id == copy.id)
    if copy.petition is not None:
        await set_petition_copy_status(copy.petition, payload["status"], _when(payload["closed_at"]))
    return "ok"


async def apply_counts(event: Event, now: float) -> str:
    """petition.counts: one node's local signatures on a petition, cumulative, with a sequence
    per reporter; only a higher sequence counts, so a late or repeated report cannot move the
    total backwards or count twice. Our own report relayed back to us is ignored."""
    payload = event.payload
    ref = payload["petition"]
    if event.origin == load_identity(now).node_id:
        return "ok"
    petition_key = f"{ref['origin']}:{ref['id']}"
    key = f"{petition_key} {event.origin}"
    held = await FederationCountReport.objects().where(FederationCountReport.key == key).first()
    if held is not None and payload["sequence"] <= held.sequence:
        return "ok"
    values = {
        FederationCountReport.sequence: payload["sequence"],
        FederationCountReport.signatures: payload["signatures"],
        FederationCountReport.as_of: payload["as_of"],
        FederationCountReport.envelope: json.dumps(event.envelope),
        FederationCountReport.updated_at: now,
    }
    if held is None:
        await FederationCountReport.insert(
            FederationCountReport(
                key=key,
                petition_key=petition_key,
                reporter=event.origin,
                **{column._meta.name: value for column, value in values.items()},
            )
        )
    else:
        await FederationCountReport.update(values).where(FederationCountReport.id == held.id)
    await refresh_total(ref["origin"], ref["id"], now)
    return "ok"


async def external_signatures(petition_key: str) -> int:
    """The sum of every other node's latest report on a petition (`origin:id`)."""
    rows = await FederationCountReport.select(FederationCountReport.signatures).where(
        FederationCountReport.petition_key == petition_key
    )
    return sum(int(r["signatures"]) for r in rows)


async def refresh_total(origin: str, origin_id: str, now: float) -> None:
    """Give core the new external figure; for a copy, also record the federation-wide total
    for the directory's ranking by recent growth."""
    external = await external_signatures(f"{origin}:{origin_id}")
    if origin == load_identity(now).node_id:
        petition_id = int(origin_id) if origin_id.isdigit() and len(origin_id) < 12 else None
        if petition_id is not None and await Petition.exists().where(
            (Petition.id == petition_id) & (Petition.origin_node == "")
        ):
            await set_external_signatures(petition_id, external)
        return
    copy = await _copy_for(origin, origin_id, now)
    total = external
    if copy.petition is not None:
        total = await set_external_signatures(copy.petition, external)
    await FederationCountSample.insert(FederationCountSample(copy=copy.id, at=now, total=total))
    await FederationCopy.update(
        {
            FederationCopy.signature_count: total,
            FederationCopy.growth_day: total - await _count_a_day_ago(copy.id, now, total),
            FederationCopy.updated_at: now,
        }
    ).where(FederationCopy.id == copy.id)


async def _count_a_day_ago(copy_id: int, now: float, current: int) -> int:
    """The count a day ago: the last report before the window, else the first one in it."""
    before = await (
        FederationCountSample.select(FederationCountSample.total)
        .where((FederationCountSample.copy == copy_id) & (FederationCountSample.at <= now - DAY))
        .order_by(FederationCountSample.at, ascending=False)
        .first()
    )
    if before is not None:
        return int(before["total"])
    first = await (
        FederationCountSample.select(FederationCountSample.total)
        .where(FederationCountSample.copy == copy_id)
        .order_by(FederationCountSample.at)
        .first()
    )
    return int(first["total"]) if first is not None else current
