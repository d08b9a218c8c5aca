"""An event's public listing, announced to core after every change (`announce_listing`), so
that whatever lists events beyond this instance — the federation plugin sends them to the
hub's directory — hears of it without this plugin knowing who listens.

Listed means what /events means: published and public. Pending, rejected, unlisted and
cancelled events are announced as not listed (core ignores that for an event never listed).
The fields are what the event's public page shows anyone — title, description, time and zone,
the place as typed (venue and street address are on the page), whether it is online, the
group — and never the host's contact details or anything about attendees.
"""

from __future__ import annotations

from typing import Any

from core.plugin_api import Group, announce_listing
from plugins.events.display import aware, event_url, kind_label
from plugins.events.tables import Event

KIND = "event"


def is_listed(event: Event) -> bool:
    return event.status == "published" and event.visibility == "public"


async def listing_fields(event: Event) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": event.title,
        "description": event.description,
        "kind": event.kind,
        "kind_label": kind_label(event.kind),
        "starts_at": int(aware(event.starts_at).timestamp()),
        "ends_at": int(aware(event.ends_at).timestamp()),
        "timezone": event.timezone,
        "online": bool(event.online_url),
        "venue": ", ".join(part for part in (event.venue, event.address) if part),
        "locality": event.locality,
        "region": event.region,
        "url": event_url(event.id),
    }
    if event.group:
        group = await Group.select(Group.id, Group.name).where(Group.id == event.group).first()
        if group is not None:
            fields["group"] = {"id": str(group["id"]), "name": group["name"]}
    return fields


async def announce(event_id: int) -> int | None:
    """Announce the event as it is now; call it inside the transaction that changed it."""
    event = await Event.objects().where(Event.id == event_id).first()
    if event is None:
        return await announce_listing(KIND, event_id, listed=False)
    return await announce_listing(KIND, event.id, listed=is_listed(event), fields=await listing_fields(event))
