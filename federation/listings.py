"""The hub's federated directory of groups and events: applying `group.listed` and
`event.listed`, and reading the directory back.

Each listing is stored once per `origin:id` with the highest version applied, in one
conditional UPDATE (`version < new`), so duplicates and reordering are harmless: an older
version changes nothing, and `listed = false` hides a listing for good unless a newer
version lists it again. The hub's own groups and events are stored the same way, under its
own node id, so the directory shows the whole federation, the national organization included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from federation.errors import FederationError
from federation.events import Event
from federation.identity import load_identity
from federation.listing_tables import FederationEventListing, FederationGroupListing
from federation.tables import FederationPeer

PAGE_SIZE = 50


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FederationError(
            400, "schema_invalid", f"event.listed payload: timezone {name[:64]!r} is not an IANA time zone"
        ) from None


async def _store_newer(
    table: type[FederationGroupListing] | type[FederationEventListing],
    origin: str,
    listing: dict[str, Any],
    listed: bool,
    fields: dict[Any, Any],
    now: float,
) -> None:
    """Create the listing's row if it is new, then take this version's fields only if it is
    newer than the one stored."""
    key = f"{origin}:{listing['id']}"
    await table.insert(
        table(key=key, origin_node=origin, local_id=listing["id"], version=0, updated_at=now)
    ).on_conflict(target=table.key, action="DO NOTHING")
    await table.update(
        {table.version: listing["version"], table.listed: listed, table.updated_at: now, **fields}
    ).where((table.key == key) & (table.version < listing["version"]))


async def store_group(origin: str, group: dict[str, Any], listed: bool, now: float) -> None:
    table = FederationGroupListing
    fields = {
        table.name: group["name"],
        table.kind: group["kind"],
        table.description: group.get("description", ""),
        table.region: (group.get("scope") or {}).get("region", ""),
        table.url: group["url"],
    }
    await _store_newer(table, origin, group, listed, fields, now)


async def store_event(origin: str, event: dict[str, Any], listed: bool, now: float) -> None:
    _zone(event["timezone"])
    ends_at = event.get("ends_at", event["starts_at"])
    if ends_at < event["starts_at"]:
        raise FederationError(400, "schema_invalid", "event.listed payload: the event ends before it starts")
    table = FederationEventListing
    fields = {
        table.title: event["title"],
        table.description: event.get("description", ""),
        table.starts_at: event["starts_at"],
        table.ends_at: ends_at,
        table.timezone: event["timezone"],
        table.online: event["online"],
        table.venue: event.get("venue", ""),
        table.locality: event.get("locality", ""),
        table.region: (event.get("scope") or {}).get("region", ""),
        table.group_name: (event.get("group") or {}).get("name", ""),
        table.url: event["url"],
    }
    await _store_newer(table, origin, event, listed, fields, now)


async def apply_group_listed(event: Event, now: float) -> str:
    """group.listed from a peer (schema and origin signature already checked)."""
    await store_group(event.origin, event.payload["group"], event.payload["listed"], now)
    return "ok"


async def apply_event_listed(event: Event, now: float) -> str:
    """event.listed from a peer; a time zone that is not an IANA name is refused."""
    await store_event(event.origin, event.payload["event"], event.payload["listed"], now)
    return "ok"


# --- the directory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    page: int
    has_next: bool


async def _origins() -> dict[str, str]:
    rows = await FederationPeer.select(FederationPeer.node_id, FederationPeer.origin)
    origins = {r["node_id"]: r["origin"] for r in rows}
    identity = load_identity()
    origins[identity.node_id] = identity.origin
    return origins


def local_start(starts_at: int, zone: str) -> str:
    """ "Sat 2 May 2026, 7:00 PM MDT": the start as people at the event read it."""
    try:
        moment = datetime.fromtimestamp(starts_at, UTC).astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        moment = datetime.fromtimestamp(starts_at, UTC)
    clock = moment.strftime("%I:%M %p").lstrip("0")
    return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b %Y')}, {clock} {moment.strftime('%Z')}"


async def groups(page: int = 1) -> Page:
    """Listed groups across the federation, by name."""
    rows = await (
        FederationGroupListing.select()
        .where(FederationGroupListing.listed == True)  # noqa: E712  (a column expression)
        .order_by(FederationGroupListing.name)
        .order_by(FederationGroupListing.id)
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    origins = await _origins()
    listed = [
        {
            "name": r["name"],
            "kind": r["kind"],
            "description": r["description"],
            "region": r["region"],
            "url": r["url"],
            "node_id": r["origin_node"],
            "instance": origins.get(r["origin_node"], r["origin_node"]),
        }
        for r in rows[:PAGE_SIZE]
    ]
    return Page(listed, page, len(rows) > PAGE_SIZE)


async def upcoming_events(page: int = 1, now: float | None = None) -> Page:
    """Listed events that have not ended, soonest first: past events drop off by themselves."""
    now = time.time() if now is None else now
    rows = await (
        FederationEventListing.select()
        .where((FederationEventListing.listed == True) & (FederationEventListing.ends_at > int(now)))  # noqa: E712
        .order_by(FederationEventListing.starts_at)
        .order_by(FederationEventListing.id)
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    origins = await _origins()
    listed = [
        {
            "title": r["title"],
            "starts_at": r["starts_at"],
            "ends_at": r["ends_at"],
            "timezone": r["timezone"],
            "when": local_start(r["starts_at"], r["timezone"]),
            "online": r["online"],
            "venue": r["venue"],
            "locality": r["locality"],
            "region": r["region"],
            "group": r["group_name"],
            "url": r["url"],
            "node_id": r["origin_node"],
            "instance": origins.get(r["origin_node"], r["origin_node"]),
        }
        for r in rows[:PAGE_SIZE]
    ]
    return Page(listed, page, len(rows) > PAGE_SIZE)
