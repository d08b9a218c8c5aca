"""How an event's time and place read to people, in the event's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.plugin_api import instance_settings
from plugins.events.tables import KINDS


def aware(moment: datetime) -> datetime:
    """Database drivers differ on whether a timestamptz comes back with a zone; it is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local(moment: datetime, zone: str) -> datetime:
    return aware(moment).astimezone(ZoneInfo(zone))


def _clock(moment: datetime) -> str:
    return moment.strftime("%I:%M %p").lstrip("0")


def when_text(starts_at: datetime, ends_at: datetime, zone: str) -> str:
    """ "Saturday, May 2, 2026, 7:00 PM – 9:00 PM MDT" (the end's date too if it differs)."""
    start, end = local(starts_at, zone), local(ends_at, zone)
    day = f"{start.strftime('%A, %B')} {start.day}, {start.year}"
    if end.date() == start.date():
        return f"{day}, {_clock(start)} – {_clock(end)} {end.strftime('%Z')}"
    end_day = f"{end.strftime('%A, %B')} {end.day}, {end.year}"
    return f"{day}, {_clock(start)} {start.strftime('%Z')} – {end_day}, {_clock(end)} {end.strftime('%Z')}"


def place_text(event: Any) -> str:
    parts = [
        event.venue,
        event.address,
        " ".join(p for p in (event.locality, event.region, event.postal_code) if p),
    ]
    text = ", ".join(p for p in parts if p)
    if event.online_url:
        return f"{text} (and online)" if text else "Online"
    return text


def kind_label(kind: str) -> str:
    return KINDS.get(kind, "Event")


def event_url(event_id: int) -> str:
    return f"{instance_settings().public_url}/events/{event_id}"


def manage_url(token: str) -> str:
    return f"{instance_settings().public_url}/events/rsvp/{token}"


def mute_url(token: str) -> str:
    return f"{instance_settings().public_url}/events/rsvp/{token}/mute"
