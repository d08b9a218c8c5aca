"""RSVPs: one per person and event (again updates the guests), guests count toward capacity,
a full event has a waitlist in order, and a cancellation promotes whoever now fits and
emails them. Attendees are members: RSVPing creates or finds the Person."""

from __future__ import annotations

import pytest

from core.plugin_api import Person, UserError
from plugins.events import service
from plugins.events.rsvp import cancel_attendance, seats_taken
from plugins.events.tables import Attendance
from tests.plugins.events.support import attend, mail_to, make_event, viewer


async def test_an_rsvp_creates_the_member_and_confirms_by_email():
    event = await make_event()
    result = await attend(event, "rosa@example.org", guests=2, postal_code="80203")
    assert result.status == "going" and result.created and result.guests == 2
    person = await Person.objects().where(Person.email == "rosa@example.org").first()
    assert person is not None and person.postal_code == "80203" and person.source == "event"
    [mail] = await mail_to("rosa@example.org")
    assert mail["key"] == f"events:rsvp:{result.attendance_id}:1"
    assert mail["subject"] == f"You're going: {event.title}"
    assert "with 2 guests" in mail["text"] and f"/events/rsvp/{result.token}" in mail["text"]
    assert "Stop reminders and messages about this event" in mail["text"]
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_an_existing_member_who_rsvps_stays_one_person():
    await viewer("rosa@example.org", name="Rosa Parks")
    event = await make_event()
    await attend(event, "rosa@example.org")
    assert await Person.count().where(Person.email == "rosa@example.org") == 1


async def test_rsvping_twice_updates_the_guests_of_the_first_rsvp():
    event = await make_event()
    first = await attend(event, "rosa@example.org", guests=1)
    again = await attend(event, "rosa@example.org", guests=3)
    assert again.attendance_id == first.attendance_id and not again.created
    assert await Attendance.count() == 1
    assert await seats_taken(event.id) == 4
    assert len(await mail_to("rosa@example.org")) == 1  # no second confirmation


async def test_guests_count_toward_capacity():
    event = await make_event(capacity="4")
    await attend(event, "a@example.org", guests=2)
    assert (await attend(event, "b@example.org", guests=1)).status == "waitlisted"
    assert (await attend(event, "c@example.org")).status == "going"  # the last place fits one
    assert await seats_taken(event.id) == 4


async def test_more_guests_than_places_left_are_refused_for_someone_going():
    event = await make_event(capacity="3")
    await attend(event, "a@example.org")
    await attend(event, "b@example.org")
    with pytest.raises(UserError, match="room for 1 more guest;"):
        await attend(event, "a@example.org", guests=2)
    assert await seats_taken(event.id) == 2


async def test_the_waitlist_is_kept_in_order_and_says_the_position():
    event = await make_event(capacity="1")
    await attend(event, "first@example.org")
    second = await attend(event, "second@example.org")
    third = await attend(event, "third@example.org")
    assert (second.position, third.position) == (1, 2)
    [mail] = await mail_to("third@example.org")
    assert mail["subject"].startswith("You're on the waitlist") and "number 2 on the waitlist" in mail["text"]


async def test_cancelling_promotes_the_first_in_line_and_emails_them():
    event = await make_event(capacity="1")
    first = await attend(event, "first@example.org")
    second = await attend(event, "second@example.org")
    await attend(event, "third@example.org")
    await cancel_attendance(first.attendance_id)
    statuses = {
        r["person.email"]: r["status"]
        for r in await Attendance.select(Attendance.status, Attendance.person.email)
    }
    assert statuses == {
        "first@example.org": "cancelled",
        "second@example.org": "going",
        "third@example.org": "waitlisted",
    }
    promoted = [m for m in await mail_to("second@example.org") if m["key"].startswith("events:promoted:")]
    assert len(promoted) == 1 and promoted[0]["key"] == f"events:promoted:{second.attendance_id}:2"
    assert "A place opened up" in promoted[0]["subject"]
    await cancel_attendance(first.attendance_id)  # cancelling twice changes nothing
    assert len(await mail_to("second@example.org", "events:promoted:")) == 1


async def test_a_party_too_large_for_the_freed_place_lets_the_next_one_in():
    event = await make_event(capacity="2")
    first = await attend(event, "first@example.org")
    await attend(event, "second@example.org")
    await attend(event, "big@example.org", guests=3)
    await attend(event, "single@example.org")
    await cancel_attendance(first.attendance_id)
    rows = {
        r["person.email"]: r["status"]
        for r in await Attendance.select(Attendance.status, Attendance.person.email)
    }
    assert rows["big@example.org"] == "waitlisted" and rows["single@example.org"] == "going"


async def test_raising_the_capacity_promotes_from_the_waitlist():
    host = await viewer(role="leader")
    event = await make_event(host, capacity="1")
    await attend(event, "first@example.org")
    await attend(event, "second@example.org")
    from tests.plugins.events.support import event_input

    values = event_input(capacity="5")
    values = values.__class__(
        **{**values.__dict__, "starts_at": _local(event.starts_at), "ends_at": _local(event.ends_at)}
    )
    await service.update_event(event.id, values, host)
    assert await Attendance.count().where(Attendance.status == "going") == 2


async def test_someone_who_cancelled_can_rsvp_again_at_the_back_of_the_line():
    event = await make_event(capacity="1")
    first = await attend(event, "first@example.org")
    await cancel_attendance(first.attendance_id)
    again = await attend(event, "first@example.org")
    assert again.attendance_id == first.attendance_id and again.status == "going"
    assert [m["key"] for m in await mail_to("first@example.org")] == [
        f"events:rsvp:{first.attendance_id}:1",
        f"events:rsvp:{first.attendance_id}:3",
    ]


def _local(moment):
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("America/Denver")).strftime("%Y-%m-%dT%H:%M")
