"""What a host works with: the attendee list (and its CSV), messages to attendees, and the
check-in list. Callers have checked `service.ensure_may_manage` first.

The CSV is opened in spreadsheets, where a cell starting with = + - @ (or a tab or carriage
return) is a formula: such cells are prefixed with ' so a name like "=HYPERLINK(…)" typed
into an RSVP form stays text (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.plugin_api import UserError, Viewer, transaction
from plugins.events import notices
from plugins.events.display import local
from plugins.events.tables import Attendance, Event, EventMessage

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Attendee:
    attendance_id: int
    name: str
    email: str
    phone: str
    postal_code: str
    status: str
    guests: int
    position: int | None
    checked_in: bool
    muted: bool
    rsvped_at: datetime


async def attendees(event_id: int) -> list[Attendee]:
    """Everyone who RSVPed: going first, then the waitlist in line order, then cancellations."""
    rows = (
        await Attendance.select(
            Attendance.all_columns(),
            Attendance.person.given_name,
            Attendance.person.family_name,
            Attendance.person.email,
            Attendance.person.phone,
            Attendance.person.postal_code,
        )
        .where(Attendance.event == event_id)
        .order_by(Attendance.queued_at, Attendance.id)
    )
    order = {"going": 0, "waitlisted": 1, "cancelled": 2}
    found, position = [], 0
    for row in sorted(rows, key=lambda r: order.get(r["status"], 3)):
        if row["status"] == "waitlisted":
            position += 1
        found.append(
            Attendee(
                attendance_id=row["id"],
                name=f"{row['person.given_name']} {row['person.family_name']}".strip() or row["person.email"],
                email=row["person.email"],
                phone=row["person.phone"],
                postal_code=row["person.postal_code"],
                status=row["status"],
                guests=row["guests"],
                position=position if row["status"] == "waitlisted" else None,
                checked_in=row["checked_in_at"] is not None,
                muted=row["muted"],
                rsvped_at=row["created_at"],
            )
        )
    return found


def head_count(people: list[Attendee], status: str = "going") -> int:
    return sum(1 + a.guests for a in people if a.status == status)


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


CSV_COLUMNS = (
    "name",
    "email",
    "phone",
    "postal_code",
    "status",
    "guests",
    "waitlist_position",
    "checked_in",
    "rsvped_at",
)


def attendees_csv(event: Event, people: list[Attendee]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for a in people:
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    a.name,
                    a.email,
                    a.phone,
                    a.postal_code,
                    a.status,
                    a.guests,
                    a.position or "",
                    "yes" if a.checked_in else "no",
                    local(a.rsvped_at, event.timezone).strftime("%Y-%m-%d %H:%M %Z"),
                )
            ]
        )
    return out.getvalue()


async def message_attendees(
    event: Event, viewer: Viewer, subject: str, body: str, *, include_waitlist: bool
) -> int:
    """Email everyone going (and, if asked, the waitlist) except those who muted the event.
    Returns how many were queued. The message is kept, and each email keyed by it."""
    subject = " ".join(subject.split())
    body = body.strip().replace("\r\n", "\n")
    if not subject:
        raise UserError("Subject is required.")
    if len(subject) > 200:
        raise UserError("Subject is too long (at most 200 characters).")
    if not body:
        raise UserError("Write a message.")
    if len(body) > 10_000:
        raise UserError("The message is too long (at most 10,000 characters).")
    if event.status not in ("published",):
        raise UserError("Messages can be sent only for a published event.")
    statuses = ("going", "waitlisted") if include_waitlist else ("going",)
    to_all = [r for r in await notices.recipients(event.id, statuses) if not r.muted]
    if not to_all:
        raise UserError("Nobody to message yet: nobody is going (or everyone asked for no more messages).")
    async with transaction():
        rows = await EventMessage.insert(
            EventMessage(event=event.id, sender=viewer.person_id, subject=subject, body=body, recipients=0)
        ).returning(EventMessage.id)
        message_id = rows[0]["id"]
        sent = 0
        for to in to_all:
            if await notices.host_message(to, event, message_id=message_id, subject=subject, body=body):
                sent += 1
        await EventMessage.update({EventMessage.recipients: sent}).where(EventMessage.id == message_id)
    return sent


async def sent_messages(event_id: int) -> list[dict[str, Any]]:
    return (
        await EventMessage.select(EventMessage.subject, EventMessage.recipients, EventMessage.created_at)
        .where(EventMessage.event == event_id)
        .order_by(EventMessage.id, ascending=False)
        .limit(50)
    )
