"""The emails attendees get, each queued through core's durable mail path with a key that
names the attendance and the change, so a retry or a second run sends nothing twice.

All mail here is plain text (nothing a host types can become markup) and ends with the
attendee's own links: manage or cancel the RSVP, and stop this event's reminders and host
messages (also offered as a one-click List-Unsubscribe, RFC 8058). Addresses that bounced or
complained are never mailed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.plugin_api import OutgoingMail, queue_mail
from plugins.events.display import event_url, manage_url, mute_url, place_text, when_text
from plugins.events.tables import Attendance, Event
from plugins.events.tokens import attendance_token

UNMAILABLE = ("bounced", "complained")


@dataclass(frozen=True)
class Recipient:
    attendance_id: int
    email: str
    given_name: str
    status: str
    guests: int
    muted: bool
    subscription: str


RECIPIENT_COLUMNS = (
    Attendance.id,
    Attendance.status,
    Attendance.guests,
    Attendance.muted,
    Attendance.person.email,
    Attendance.person.given_name,
    Attendance.person.subscription,
)


def recipient(row: dict[str, Any]) -> Recipient:
    return Recipient(
        attendance_id=row["id"],
        email=row["person.email"],
        given_name=row["person.given_name"] or "",
        status=row["status"],
        guests=row["guests"],
        muted=row["muted"],
        subscription=row["person.subscription"],
    )


async def recipients(event_id: int, statuses: tuple[str, ...] = ("going", "waitlisted")) -> list[Recipient]:
    rows = (
        await Attendance.select(*RECIPIENT_COLUMNS)
        .where(Attendance.event == event_id)
        .where(Attendance.status.is_in(list(statuses)))
        .order_by(Attendance.id)
    )
    return [recipient(r) for r in rows]


async def recipient_of(attendance_id: int) -> Recipient | None:
    row = await Attendance.select(*RECIPIENT_COLUMNS).where(Attendance.id == attendance_id).first()
    return recipient(row) if row else None


def _subject(text: str) -> str:
    return " ".join(text.split())[:200]


def event_summary(event: Event) -> str:
    lines = [event.title, when_text(event.starts_at, event.ends_at, event.timezone)]
    place = place_text(event)
    if place:
        lines.append(place)
    if event.online_url:
        lines.append(f"Online: {event.online_url}")
    lines.append(event_url(event.id))
    return "\n".join(lines)


def _footer(to: Recipient, event: Event) -> str:
    token = attendance_token(to.attendance_id)
    return (
        "\n\n-- \n"
        f"You get this because you RSVPed to “{event.title}”.\n"
        f"See or cancel your RSVP: {manage_url(token)}\n"
        f"Stop reminders and messages about this event: {mute_url(token)}\n"
    )


async def send(to: Recipient, event: Event, *, subject: str, body: str, key: str) -> bool:
    """Queue one email to an attendee (False: not sent, or already queued under `key`)."""
    if to.subscription in UNMAILABLE:
        return False
    greeting = f"Hi {to.given_name},\n\n" if to.given_name else "Hello,\n\n"
    token = attendance_token(to.attendance_id)
    mail = OutgoingMail(
        to=to.email,
        subject=_subject(subject),
        text=greeting + body.strip() + _footer(to, event),
        headers={
            "List-Unsubscribe": f"<{mute_url(token)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    return await queue_mail(mail, key=key)


def _party(guests: int) -> str:
    return f" with {guests} guest{'s' if guests != 1 else ''}" if guests else ""


async def rsvp_confirmation(to: Recipient, event: Event, *, revision: int, position: int | None) -> bool:
    if to.status == "waitlisted":
        subject = f"You're on the waitlist: {event.title}"
        body = (
            f"“{event.title}” is full, so you are number {position or 1} on the waitlist{_party(to.guests)}. "
            "If a place opens up you move in automatically and we email you.\n\n" + event_summary(event)
        )
    else:
        subject = f"You're going: {event.title}"
        body = f"You're going{_party(to.guests)}. See you there!\n\n" + event_summary(event)
    return await send(to, event, subject=subject, body=body, key=f"events:rsvp:{to.attendance_id}:{revision}")


async def promoted(to: Recipient, event: Event, *, revision: int) -> bool:
    body = (
        f"A place opened up at “{event.title}”, and it is yours{_party(to.guests)}: "
        "you are now on the list of people going. If you can no longer come, please cancel "
        "so the next person can.\n\n" + event_summary(event)
    )
    return await send(
        to,
        event,
        subject=f"A place opened up: you're going to {event.title}",
        body=body,
        key=f"events:promoted:{to.attendance_id}:{revision}",
    )


async def reminder(to: Recipient, event: Event, *, kind: str) -> bool:
    soon = "tomorrow" if kind == "24h" else "in about two hours"
    body = f"A reminder: “{event.title}” starts {soon}.\n\n" + event_summary(event)
    return await send(
        to,
        event,
        subject=f"Reminder: {event.title} starts {soon}",
        body=body,
        key=f"events:reminder:{to.attendance_id}:{kind}",
    )


async def cancelled(to: Recipient, event: Event, *, reason: str) -> bool:
    because = f"\n\nThe host says: {reason}" if reason else ""
    body = (
        f"“{event.title}”, planned for {when_text(event.starts_at, event.ends_at, event.timezone)}, "
        f"has been cancelled.{because}\n\nSorry for the change of plans, and thank you for signing up."
    )
    return await send(
        to,
        event,
        subject=f"Cancelled: {event.title}",
        body=body,
        key=f"events:cancelled:{event.id}:{to.attendance_id}",
    )


async def changed(to: Recipient, event: Event) -> bool:
    body = (
        f"The time or place of “{event.title}” has changed. Here are the new details:\n\n"
        + event_summary(event)
        + "\n\nIf you can no longer come, please cancel your RSVP so someone else can take your place."
    )
    return await send(
        to,
        event,
        subject=f"Changed: {event.title}",
        body=body,
        key=f"events:changed:{event.id}:v{event.version}:{to.attendance_id}",
    )


async def host_message(to: Recipient, event: Event, *, message_id: int, subject: str, body: str) -> bool:
    return await send(
        to,
        event,
        subject=subject,
        body=body + "\n\n" + event_summary(event),
        key=f"events:message:{message_id}:{to.attendance_id}",
    )
