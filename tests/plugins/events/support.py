"""Making hosts, events and attendees for the events plugin's tests, and reading the mail
they queue (outbox rows on the mail topic, keyed per attendance and change)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.accounts.logins import ensure_login
from core.outbox.tables import OutboxItem
from core.plugin_api import PersonInput, Viewer, sign_up
from plugins.events import service
from plugins.events.rsvp import RsvpResult, rsvp
from plugins.events.tables import Event
from plugins.events.validation import EventInput

MAIL_TOPIC = "mail.send"


async def viewer(
    email: str = "hana.host@example.org", role: str = "member", name: str = "Hana Host"
) -> Viewer:
    """A signed-in member with a real login (group leadership is recorded per login)."""
    given, _, family = name.partition(" ")
    person = await sign_up(PersonInput(email=email, given_name=given, family_name=family))
    login = await ensure_login(email, role)
    return Viewer(login_id=login.id, person_id=person.person_id, email=email, name=name, role=role)


def local_input(moment: datetime, zone: str = "America/Denver") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def event_input(
    *, starts_in: timedelta = timedelta(days=3), hours: float = 2, zone: str = "America/Denver", **fields: str
) -> EventInput:
    start = datetime.now(UTC) + starts_in
    values = {
        "title": "House party for the footbridge",
        "starts_at": local_input(start, zone),
        "ends_at": local_input(start + timedelta(hours=hours), zone),
        "timezone": zone,
        "kind": "house_party",
        "address": "12 Elm Street",
        "postal_code": "80202",
        "description": "Snacks, letters to the mayor, and a plan.",
        **fields,
    }
    return EventInput(**values)


async def make_event(host: Viewer | None = None, **fields) -> Event:
    host = host or await viewer(role="leader")
    return await service.create_event(event_input(**fields), host)


async def attend(event: Event, email: str, guests: int = 0, postal_code: str = "") -> RsvpResult:
    name = email.split("@")[0].capitalize()
    return await rsvp(event.id, PersonInput(email=email, given_name=name, postal_code=postal_code), guests)


async def queued_mail(prefix: str = "events:") -> list[dict]:
    """Mail queued under keys starting with `prefix`, oldest first: key, to, subject, text."""
    rows = (
        await OutboxItem.select(OutboxItem.key, OutboxItem.payload)
        .where((OutboxItem.topic == MAIL_TOPIC) & OutboxItem.key.like(f"{prefix}%"))
        .order_by(OutboxItem.id)
    )
    found = []
    for row in rows:
        payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
        found.append({"key": row["key"], **payload})
    return found


async def mail_to(address: str, prefix: str = "events:") -> list[dict]:
    return [m for m in await queued_mail(prefix) if m["to"] == address]
