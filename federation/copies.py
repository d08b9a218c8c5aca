"""Federated petitions on the receiving node: copies kept as core Petition rows.

A copy is an ordinary `Petition` with `origin_node`/`origin_id` set (columns core has for
exactly this), so the directory, the petition page and the OSDI API show it without core
knowing anything about federation. What only federation needs — the highest text version,
status version and count sequence applied, and the count history for "recent growth" — is
kept in `federation_copy`. Because each part carries its own version or sequence, events
may arrive twice or in any order: an older one changes nothing, and a `petition.closed` that
overtakes the text is remembered and applied when the text arrives.

The origin's cumulative count is stored in a signature-count shard of its own (shard -1,
which local signing never picks), so the total core reads is the origin's count plus any
signatures made on this copy, and core's periodic refresh keeps the materialised columns right.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from core.plugin_api import Petition, PetitionTarget, SignatureCount, render_markdown
from federation.events import Event
from federation.tables import FederationCopy, FederationCountSample

EXTERNAL_SHARD = -1
DAY = 24 * 3600
_SET_EXTERNAL = (
    "INSERT INTO signature_count (petition, shard, count) VALUES ({}, {}, {}) "
    "ON CONFLICT (petition, shard) DO UPDATE SET count = excluded.count"
)
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


async def _unique_slug(slug: str, origin: str) -> str:
    candidate = f"{slug[:100]}-{origin[3:9]}"
    while await Petition.exists().where(Petition.slug == candidate):
        candidate = f"{slug[:100]}-{origin[3:9]}-{secrets.token_hex(2)}"
    return candidate


async def _set_external_count(petition_id: int, count: int) -> None:
    await SignatureCount.raw(_SET_EXTERNAL, petition_id, EXTERNAL_SHARD, count)


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
    values = {
        Petition.title: data["title"][:150],
        Petition.body: data["body"],
        Petition.body_html: render_markdown(data["body"]),
        Petition.goal: data.get("goal", 0) or 1,
        Petition.scope_kind: scope_kind,
        Petition.scope_value: scope_value,
        Petition.status: status,
        Petition.version: version,
        Petition.published_at: _when(data["published_at"]),
        Petition.updated_at: _when(data["updated_at"]) or datetime.now(UTC),
    }
    petition_id = copy.petition
    if petition_id is None:
        rows = await Petition.insert(
            Petition(
                slug=await _unique_slug(data["slug"], event.origin),
                origin_node=event.origin,
                origin_id=data["id"],
                **{column._meta.name: value for column, value in values.items()},
            )
        ).returning(Petition.id)
        petition_id = rows[0]["id"]
        await _set_external_count(petition_id, copy.signature_count)
    else:
        await Petition.update(values).where(Petition.id == petition_id)
    if status in ("closed", "delivered") and copy.closed_at:
        await Petition.update({Petition.closed_at: _when(copy.closed_at)}).where(Petition.id == petition_id)
    await PetitionTarget.delete().where(PetitionTarget.petition == petition_id)
    targets = data.get("targets") or []
    if targets:
        await PetitionTarget.insert(
            *[
                PetitionTarget(
                    petition=petition_id,
                    position=i,
                    name=t["name"][:200],
                    title=t.get("title", "")[:200],
                    postal_area=t.get("postal_area", "")[:100],
                )
                for i, t in enumerate(targets)
            ]
        )
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
        await Petition.update(
            {Petition.status: payload["status"], Petition.closed_at: _when(payload["closed_at"])}
        ).where(Petition.id == copy.petition)
    return "ok"


async def apply_counts(event: Event, now: float) -> str:
    """petition.counts: a cumulative total with a sequence number; only a higher sequence
    counts, so a late or repeated report cannot move the total backwards."""
    payload = event.payload
    copy = await _copy_for(event.origin, payload["petition"]["id"], now)
    if payload["sequence"] <= copy.counts_sequence:
        return "ok"
    count = payload["signatures"]
    await FederationCountSample.insert(FederationCountSample(copy=copy.id, at=now, total=count))
    await FederationCopy.update(
        {
            FederationCopy.counts_sequence: payload["sequence"],
            FederationCopy.signature_count: count,
            FederationCopy.growth_day: count - await _count_a_day_ago(copy.id, now, count),
            FederationCopy.updated_at: now,
        }
    ).where(FederationCopy.id == copy.id)
    if copy.petition is not None:
        await _set_external_count(copy.petition, count)
        await Petition.update({Petition.signature_count: count}).where(Petition.id == copy.petition)
    return "ok"


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
