"""Calendars: an .ics per event and per group, and "add to calendar" links.

Times go out in the event's own zone (with its VTIMEZONE), so a calendar shows 7 pm in
Denver as 7 pm Denver time wherever the reader is. The UID is stable per event and SEQUENCE
is the event's version, so a rescheduled or cancelled event updates the copy people already
added instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlencode

import icalendar

from core.plugin_api import instance_settings
from plugins.events.display import aware, event_url, local, place_text
from plugins.events.tables import Event

PRODID = "-//Groundswell//Events plugin//EN"


def uid(event: Event) -> str:
    return f"event-{event.id}@{instance_settings().public_host}"


def _vevent(event: Event, stamp: datetime) -> icalendar.Event:
    item = icalendar.Event()
    item.add("uid", uid(event))
    item.add("dtstamp", stamp)
    item.add("dtstart", local(event.starts_at, event.timezone))
    item.add("dtend", local(event.ends_at, event.timezone))
    item.add("summary", event.title)
    url = event_url(event.id)
    item.add("description", f"{event.description}\n\n{url}".strip())
    place = place_text(event) or event.online_url
    if place:
        item.add("location", place)
    if event.latitude is not None and event.longitude is not None and event.address:
        item.add("geo", (event.latitude, event.longitude))
    item.add("url", url)
    item.add("sequence", event.version)
    item.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    item.add("last-modified", aware(event.updated_at))
    return item


def calendar(events: Iterable[Event], *, name: str) -> bytes:
    """A VCALENDAR with one VEVENT per event (and the time zones they use)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    stamp = datetime.now(UTC)
    for event in events:
        cal.add_component(_vevent(event, stamp))
    cal.add_missing_timezones()
    return cal.to_ical()


def _utc_stamp(moment: datetime) -> str:
    return aware(moment).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def google_link(event: Event) -> str:
    query = {
        "action": "TEMPLATE",
        "text": event.title,
        "dates": f"{_utc_stamp(event.starts_at)}/{_utc_stamp(event.ends_at)}",
        "details": f"{event.description[:1000]}\n\n{event_url(event.id)}".strip(),
        "location": place_text(event) or event.online_url,
        "ctz": event.timezone,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


def outlook_link(event: Event) -> str:
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": event.title,
        "startdt": aware(event.starts_at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "enddt": aware(event.ends_at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "body": f"{event.description[:1000]}\n\n{event_url(event.id)}".strip(),
        "location": place_text(event) or event.online_url,
    }
    return "https://outlook.live.com/calendar/0/deeplink/compose?" + urlencode(query)
