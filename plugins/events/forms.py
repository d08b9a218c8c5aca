"""Turning the event form into an EventInput, and an event back into form values."""

from __future__ import annotations

from typing import Any

from core.plugin_api import field
from plugins.events.display import local
from plugins.events.tables import Event
from plugins.events.validation import EventInput

_LIMITS = {
    "title": 1000,
    "description": 20_000,
    "starts_at": 40,
    "ends_at": 40,
    "timezone": 200,
    "kind": 40,
    "visibility": 40,
    "venue": 1000,
    "address": 1000,
    "locality": 1000,
    "region": 1000,
    "postal_code": 100,
    "online_url": 1000,
    "capacity": 40,
    "host_email": 1000,
    "host_phone": 200,
    "group_id": 40,
    "petition_slug": 1000,
    "target_name": 1000,
}


def event_input(data: dict[str, Any]) -> EventInput:
    values = {name: field(data, name, max_length=limit) for name, limit in _LIMITS.items()}
    # The description keeps its line breaks (field() only trims the ends).
    return EventInput(**values)


def form_values(event: Event, petition_slug: str = "") -> dict[str, str]:
    fmt = "%Y-%m-%dT%H:%M"
    return {
        "title": event.title,
        "description": event.description,
        "kind": event.kind,
        "visibility": event.visibility,
        "starts_at": local(event.starts_at, event.timezone).strftime(fmt),
        "ends_at": local(event.ends_at, event.timezone).strftime(fmt),
        "timezone": event.timezone,
        "venue": event.venue,
        "address": event.address,
        "locality": event.locality,
        "region": event.region,
        "postal_code": event.postal_code,
        "online_url": event.online_url,
        "capacity": "" if event.capacity is None else str(event.capacity),
        "host_email": event.host_email,
        "host_phone": event.host_phone,
        "group_id": "" if event.group is None else str(event.group),
        "petition_slug": petition_slug,
        "target_name": event.target_name,
    }
