"""Reminders 24 hours and 2 hours before an event, exactly once per attendance and kind.

A periodic job (through core's outbox, so one run per minute across every process) looks
for attendances whose reminder is due. Each is claimed by a conditional UPDATE (`… WHERE
reminded_2h = false`), and the email is queued in the same transaction under the key
`events:reminder:<attendance>:<kind>`: a second run, a concurrent run or a retried one finds
nothing left to claim, and the outbox would refuse the same key anyway.

Someone who RSVPs less than two hours ahead gets the 2-hour reminder only; nobody gets a
reminder for an event that has started, and muted or waitlisted attendees get none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.plugin_api import OutboxWork, periodic, transaction
from plugins.events import notices
from plugins.events.display import aware
from plugins.events.tables import Attendance, Event

TOPIC = "events.reminders"
LEADS = {"24h": timedelta(hours=24), "2h": timedelta(hours=2)}


async def queue_due_reminders(now: datetime | None = None) -> int:
    """Queue every due reminder; returns how many were queued."""
    now = now or datetime.now(UTC)
    due = (
        await Attendance.select(
            Attendance.id,
            Attendance.event,
            Attendance.reminded_24h,
            Attendance.reminded_2h,
            Attendance.event.starts_at,
        )
        .where(
            (Attendance.status == "going")
            & (Attendance.muted == False)  # noqa: E712 - a SQL expression
            & (Attendance.event.status == "published")
            & (Attendance.event.starts_at > now)
            & (Attendance.event.starts_at <= now + LEADS["24h"])
            & ((Attendance.reminded_24h == False) | (Attendance.reminded_2h == False))  # noqa: E712
        )
        .order_by(Attendance.id)
        .limit(5000)
    )
    events: dict[int, Event] = {}
    queued = 0
    for row in due:
        kind = "2h" if aware(row["event.starts_at"]) - now <= LEADS["2h"] else "24h"
        if kind == "24h" and row["reminded_24h"]:
            continue
        if kind == "2h" and row["reminded_2h"]:
            continue
        async with transaction():
            claim = Attendance.update({Attendance.reminded_24h: True, Attendance.reminded_2h: True})
            column = Attendance.reminded_2h if kind == "2h" else Attendance.reminded_24h
            if kind == "24h":
                claim = Attendance.update({Attendance.reminded_24h: True})
            claimed = await claim.where((Attendance.id == row["id"]) & (column == False)).returning(  # noqa: E712
                Attendance.id
            )
            if not claimed:
                continue
            if row["event"] not in events:
                event = await Event.objects().where(Event.id == row["event"]).first()
                if event is None:
                    continue
                events[row["event"]] = event
            to = await notices.recipient_of(row["id"])
            if to is not None and await notices.reminder(to, events[row["event"]], kind=kind):
                queued += 1
    return queued


@periodic(TOPIC, every_seconds=60)
async def send_due_reminders(work: OutboxWork) -> None:
    await queue_due_reminders()
