"""RSVPs, the waitlist and check-in.

Capacity counts people, guests included. An RSVP that does not fit joins the waitlist; when a
place opens (a cancellation, a larger capacity) the waitlist is walked in order and everyone
who now fits moves in and is emailed — so a party of four at the head of the line does not
block a single person behind it when only one place is free.

Every change happens inside one transaction that holds the event's row lock (PostgreSQL:
SELECT … FOR UPDATE; SQLite: the write lock BEGIN IMMEDIATE takes), so two people racing for
the last place never both get it. RSVPing again is idempotent per person and event: it
updates the guests of the first RSVP.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from core.plugin_api import Conflict, NotFound, PersonInput, UserError, sign_up, transaction
from plugins.events import notices
from plugins.events.display import aware
from plugins.events.tables import Attendance, Event
from plugins.events.tokens import attendance_token
from plugins.events.validation import guests_of

MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class RsvpResult:
    attendance_id: int
    event_id: int
    status: str  # going | waitlisted
    guests: int
    position: int | None  # on the waitlist, 1-based
    created: bool
    token: str


async def lock_event(event_id: int) -> Event:
    """The event, its row locked for the rest of the transaction (PostgreSQL)."""
    query = Event.objects().where(Event.id == event_id)
    if Event._meta.db.engine_type == "postgres":
        query = query.lock_rows()
    event = await query.first()
    if event is None:
        raise NotFound("There is no such event. It may have been removed; check the link.")
    return event


def ensure_open(event: Event, now: datetime) -> None:
    """An RSVP is possible: published, not cancelled, not over."""
    if event.status == "cancelled":
        raise Conflict("This event was cancelled, so it takes no more RSVPs.")
    if event.status != "published":
        raise Conflict("This event is not open for RSVPs yet.")
    if aware(event.ends_at) <= now:
        raise Conflict("This event is over, so it takes no more RSVPs.")


async def seats_taken(event_id: int, *, except_attendance: int | None = None) -> int:
    query = Attendance.select(Attendance.id, Attendance.guests).where(
        (Attendance.event == event_id) & (Attendance.status == "going")
    )
    return sum(1 + r["guests"] for r in await query if r["id"] != except_attendance)


async def waitlist_position(attendance: dict) -> int:
    ahead = await Attendance.count().where(
        (Attendance.event == attendance["event"])
        & (Attendance.status == "waitlisted")
        & (
            (Attendance.queued_at < attendance["queued_at"])
            | ((Attendance.queued_at == attendance["queued_at"]) & (Attendance.id < attendance["id"]))
        )
    )
    return ahead + 1


async def rsvp(event_id: int, person: PersonInput, guests: int | str = 0, *, source: str = "") -> RsvpResult:
    """RSVP `person` (found or created as a member) to the event, with `guests`."""
    count = guests_of(guests)
    if not 1 <= event_id <= MAX_ID:
        raise NotFound("There is no such event.")
    now = datetime.now(UTC)
    event = await Event.objects().where(Event.id == event_id).first()
    if event is None:
        raise NotFound("There is no such event. It may have been removed; check the link.")
    ensure_open(event, now)  # before the person is created: a refused RSVP leaves no trace
    signed = await sign_up(replace(person, source=person.source or "event"))
    async with transaction():
        event = await lock_event(event_id)
        ensure_open(event, now)
        existing = (
            await Attendance.select()
            .where((Attendance.event == event_id) & (Attendance.person == signed.person_id))
            .first()
        )
        taken = await seats_taken(event_id, except_attendance=existing["id"] if existing else None)
        fits = event.capacity is None or taken + 1 + count <= event.capacity
        if existing and existing["status"] == "going":
            if not fits:
                room = max(event.capacity - taken - 1, 0)
                raise UserError(
                    f"You already have a place. There is room for {room} more "
                    f"guest{'s' if room != 1 else ''}; "
                    "change the number of guests and try again."
                )
            await Attendance.update({Attendance.guests: count, Attendance.updated_at: now}).where(
                Attendance.id == existing["id"]
            )
            return await _result(existing["id"], created=False)
        if existing and existing["status"] == "waitlisted":
            await Attendance.update({Attendance.guests: count, Attendance.updated_at: now}).where(
                Attendance.id == existing["id"]
            )
            await promote_waitlist(event)
            return await _result(existing["id"], created=False)
        status = "going" if fits else "waitlisted"
        if existing:  # they had cancelled: a new RSVP, at the back of any line
            attendance_id, revision = existing["id"], existing["revision"] + 1
            await Attendance.update(
                {
                    Attendance.status: status,
                    Attendance.guests: count,
                    Attendance.queued_at: now,
                    Attendance.revision: revision,
                    Attendance.updated_at: now,
                }
            ).where(Attendance.id == attendance_id)
        else:
            rows = await Attendance.insert(
                Attendance(
                    event=event_id,
                    person=signed.person_id,
                    status=status,
                    guests=count,
                    queued_at=now,
                    source=source[:100],
                )
            ).returning(Attendance.id)
            attendance_id, revision = rows[0]["id"], 1
        result = await _result(attendance_id, created=existing is None)
        to = await notices.recipient_of(attendance_id)
        if to is not None:
            await notices.rsvp_confirmation(to, event, revision=revision, position=result.position)
        return result


async def _result(attendance_id: int, *, created: bool) -> RsvpResult:
    row = await Attendance.select().where(Attendance.id == attendance_id).first()
    assert row is not None
    position = await waitlist_position(row) if row["status"] == "waitlisted" else None
    return RsvpResult(
        attendance_id=row["id"],
        event_id=row["event"],
        status=row["status"],
        guests=row["guests"],
        position=position,
        created=created,
        token=attendance_token(row["id"]),
    )


async def attendance_status(attendance_id: int) -> RsvpResult:
    if not await Attendance.exists().where(Attendance.id == attendance_id):
        raise NotFound("There is no such RSVP.")
    return await _result(attendance_id, created=False)


async def promote_waitlist(event: Event) -> list[int]:
    """Move waitlisted people in, in line order, while places are free; email each. Call
    inside the transaction that freed the place. Returns the promoted attendance ids."""
    now = datetime.now(UTC)
    if event.status != "published" or aware(event.ends_at) <= now:
        return []
    waiting = (
        await Attendance.select(Attendance.id, Attendance.guests, Attendance.revision)
        .where((Attendance.event == event.id) & (Attendance.status == "waitlisted"))
        .order_by(Attendance.queued_at, Attendance.id)
    )
    if not waiting:
        return []
    taken = await seats_taken(event.id)
    promoted = []
    for row in waiting:
        need = 1 + row["guests"]
        if event.capacity is not None and taken + need > event.capacity:
            continue
        taken += need
        revision = row["revision"] + 1
        await Attendance.update(
            {Attendance.status: "going", Attendance.revision: revision, Attendance.updated_at: now}
        ).where(Attendance.id == row["id"])
        promoted.append(row["id"])
        to = await notices.recipient_of(row["id"])
        if to is not None:
            await notices.promoted(to, event, revision=revision)
    return promoted


async def cancel_attendance(attendance_id: int) -> RsvpResult:
    """Cancel an RSVP (idempotent) and give the freed places to the waitlist."""
    row = await Attendance.select(Attendance.event).where(Attendance.id == attendance_id).first()
    if row is None:
        raise NotFound("There is no such RSVP.")
    async with transaction():
        event = await lock_event(row["event"])
        current = await Attendance.select().where(Attendance.id == attendance_id).first()
        if current["status"] != "cancelled":
            await Attendance.update(
                {
                    Attendance.status: "cancelled",
                    Attendance.revision: current["revision"] + 1,
                    Attendance.updated_at: datetime.now(UTC),
                }
            ).where(Attendance.id == attendance_id)
            await promote_waitlist(event)
    return await _result(attendance_id, created=False)


async def mute_attendance(attendance_id: int) -> None:
    """No more reminders or host messages about this event (idempotent)."""
    updated = (
        await Attendance.update({Attendance.muted: True})
        .where(Attendance.id == attendance_id)
        .returning(Attendance.id)
    )
    if not updated:
        raise NotFound("There is no such RSVP.")


async def check_in(event_id: int, attendance_id: int, *, present: bool) -> None:
    """Mark someone as arrived (or undo it). Only for people going."""
    row = (
        await Attendance.select(Attendance.status)
        .where((Attendance.id == attendance_id) & (Attendance.event == event_id))
        .first()
    )
    if row is None:
        raise NotFound("This person has no RSVP for this event.")
    if row["status"] != "going":
        raise UserError("Only people who are going can be checked in; this RSVP is " + row["status"] + ".")
    await Attendance.update({Attendance.checked_in_at: datetime.now(UTC) if present else None}).where(
        Attendance.id == attendance_id
    )
