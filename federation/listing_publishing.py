"""What a node tells its hub about its public groups and events: `group.listed` and
`event.listed`, from core's `listing.changed` events (a group announced by core, an event
announced by the events plugin; federation knows neither, only the listing).

The version is the listing's version from core, so the hub keeps the newest whatever order
events reach it in; `listed = false` (hidden, cancelled, made private, deleted) hides it there.
Only what the origin's public page shows is sent, mapped field by field (an announcer's extra
fields never cross), and every payload passes the member-data guard. A description that the
guard refuses (a host's e-mail address in the text) is left out rather than holding back the
listing; an unlisting always goes out, with a neutral title if the real one is refused, so a
listing can always be taken down. On the hub itself the listing goes straight into its
directory. `send_missing_listings` sends a hub what it has not had yet (listings made before
the instance was paired).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from core.plugin_api import Event, current_listings, plugin_logger
from federation import listings
from federation.events import MemberDataError, assert_no_member_data
from federation.identity import load_identity
from federation.outbound import peers_with_role, queue_event, stable_event_id
from federation.tables import FederationOutbound

log = plugin_logger("federation")

EVENT_TYPES = {"group": "group.listed", "event": "event.listed"}
GROUP_KINDS = ("council", "state", "other")
OPTIONAL_TEXT = ("description", "venue")
PLACEHOLDER = {"group": "Unlisted group", "event": "Unlisted event"}


def _scope(fields: Mapping[str, Any]) -> dict[str, str]:
    region = str(fields.get("region") or "").strip()[:100]
    return {"region": region} if region else {}


def group_object(local_id: str, version: int, fields: Mapping[str, Any]) -> dict[str, Any]:
    group: dict[str, Any] = {
        "id": local_id,
        "version": version,
        "name": str(fields["name"])[:200],
        "kind": fields.get("kind") if fields.get("kind") in GROUP_KINDS else "other",
        "description": str(fields.get("description") or "")[:5000],
        "url": str(fields["url"]),
    }
    if scope := _scope(fields):
        group["scope"] = scope
    return group


def event_object(local_id: str, version: int, fields: Mapping[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": local_id,
        "version": version,
        "title": str(fields["title"])[:300],
        "description": str(fields.get("description") or "")[:20_000],
        "starts_at": int(fields["starts_at"]),
        "timezone": str(fields["timezone"])[:64],
        "online": bool(fields.get("online")),
        "venue": str(fields.get("venue") or "")[:300],
        "locality": str(fields.get("locality") or "")[:200],
        "url": str(fields["url"]),
    }
    if isinstance(fields.get("ends_at"), int) and fields["ends_at"] >= event["starts_at"]:
        event["ends_at"] = fields["ends_at"]
    if scope := _scope(fields):
        event["scope"] = scope
    group = fields.get("group")
    if isinstance(group, Mapping) and group.get("id") and group.get("name"):
        event["group"] = {"id": str(group["id"])[:100], "name": str(group["name"])[:200]}
    return event


def _passes(payload: dict[str, Any]) -> bool:
    try:
        assert_no_member_data(payload)
    except MemberDataError:
        return False
    return True


def listing_payload(kind: str, local_id: str, version: int, listed: bool, fields: Mapping[str, Any]) -> dict:
    """The payload of group.listed / event.listed, with the guard's fallbacks applied."""
    build = group_object if kind == "group" else event_object
    inner = build(local_id, version, fields)
    payload = {kind: inner, "listed": listed}
    if _passes(payload):
        return payload
    for name in OPTIONAL_TEXT:
        if inner.get(name):
            log.warning("%s %s: %s left out of the hub's listing (member-data guard)", kind, local_id, name)
            inner[name] = ""
    if not listed and not _passes(payload):
        inner["title" if kind == "event" else "name"] = PLACEHOLDER[kind]
    return payload  # if it still does not pass, queue_event records a dead letter saying why


async def _queue(kind: str, local_id: str, version: int, listed: bool, fields: Mapping[str, Any]) -> int:
    event_type = EVENT_TYPES[kind]
    hubs = await peers_with_role("hub")
    if not hubs:
        return 0
    node_id = load_identity().node_id
    return await queue_event(
        event_type,
        listing_payload(kind, local_id, version, listed, fields),
        hubs,
        event_id=stable_event_id(node_id, event_type, local_id, version),
    )


async def on_listing_changed(event: Event) -> None:
    """listing.changed: queue it for the hub, or on the hub put it in the directory."""
    kind = str(event.data.get("kind", ""))
    if kind not in EVENT_TYPES:
        return  # a kind the federation protocol has no event for
    local_id, version = str(event.data["local_id"]), int(event.data["version"])
    listed, fields = bool(event.data["listed"]), event.data.get("fields") or {}
    identity = load_identity()
    if identity.role == "hub":
        payload = listing_payload(kind, local_id, version, listed, fields)
        store = listings.store_group if kind == "group" else listings.store_event
        await store(identity.node_id, payload[kind], listed, time.time())
        return
    await _queue(kind, local_id, version, listed, fields)


async def send_missing_listings() -> int:
    """Queue, for each hub, every listed group and event whose current version it has not
    been sent (stable event ids make a repeat a no-op); on the hub, file its own listings.
    Returns how many events were queued."""
    identity = load_identity()
    current = [item for item in await current_listings() if item.kind in EVENT_TYPES]
    if identity.role == "hub":  # the hub's own: into its directory (older versions change nothing)
        for item in current:
            payload = listing_payload(item.kind, item.local_id, item.version, item.listed, item.fields)
            store = listings.store_group if item.kind == "group" else listings.store_event
            await store(identity.node_id, payload[item.kind], item.listed, time.time())
        return 0
    hubs = await peers_with_role("hub")
    node_id = identity.node_id
    queued = 0
    for hub in hubs:
        sent = {
            r["event_id"]
            for r in await FederationOutbound.select(FederationOutbound.event_id).where(
                (FederationOutbound.peer == hub)
                & FederationOutbound.event_type.is_in(list(EVENT_TYPES.values()))
            )
        }
        for item in current:
            event_type = EVENT_TYPES[item.kind]
            event_id = stable_event_id(node_id, event_type, item.local_id, item.version)
            if event_id in sent:
                continue
            queued += await queue_event(
                event_type,
                listing_payload(item.kind, item.local_id, item.version, item.listed, item.fields),
                [hub],
                event_id=event_id,
            )
    return queued
