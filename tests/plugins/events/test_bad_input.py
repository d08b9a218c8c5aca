"""Bad input from hosts and attendees is refused with a message a person can act on, and
nothing is stored: capacity 0, an end before the start, an unknown time zone, an invalid
postal code, RSVPs to full, past or cancelled events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.plugin_api import Conflict, PersonInput, UserError
from plugins.events import service
from plugins.events.geo import check_radius, locate
from plugins.events.rsvp import rsvp
from plugins.events.tables import Attendance, Event
from tests.plugins.events.support import attend, event_input, make_event, viewer


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"capacity": "0"}, "Capacity must be at least 1, or blank for no limit."),
        ({"capacity": "-3"}, "Capacity must be at least 1"),
        ({"capacity": "lots"}, "Capacity must be a whole number"),
        ({"timezone": "Mars/Olympus_Mons"}, "Unknown time zone 'Mars/Olympus_Mons'"),
        ({"timezone": "../../etc/passwd"}, "Unknown time zone"),
        ({"timezone": ""}, "Time zone is required"),
        ({"postal_code": "ABCDE"}, "is not a US ZIP code"),
        ({"postal_code": "00000"}, "We could not find the ZIP code 00000"),
        ({"online_url": "javascript:alert(1)", "address": "", "postal_code": ""}, "must be a web address"),
        ({"address": "", "postal_code": ""}, "Give the venue's address and ZIP code, or an online link"),
        ({"title": ""}, "Title is required."),
        ({"kind": "picnic"}, "Event type must be one of"),
        ({"visibility": "secret"}, "Visibility must be public"),
        ({"starts_at": "tomorrow evening"}, "Start: give a date and time"),
        ({"host_email": "not an address"}, "is not an email address"),
        ({"kind": "petition_delivery"}, "A petition delivery needs the petition"),
    ],
)
async def test_bad_event_input_is_refused_with_a_clear_message(fields, message):
    host = await viewer(role="leader")
    with pytest.raises(UserError) as refused:
        await service.create_event(event_input(**fields), host)
    assert refused.value.status_code == 400
    assert message in refused.value.message
    assert await Event.count() == 0


async def test_an_end_before_the_start_is_refused():
    host = await viewer(role="leader")
    data = event_input()
    with pytest.raises(UserError, match="The end must be after the start"):
        await service.create_event(event_input(starts_at=data.ends_at, ends_at=data.starts_at), host)
    with pytest.raises(UserError, match="The end must be after the start"):
        await service.create_event(event_input(ends_at=data.starts_at), host)
    assert await Event.count() == 0


async def test_a_start_in_the_past_is_refused():
    host = await viewer(role="leader")
    with pytest.raises(UserError, match="The start is in the past"):
        await service.create_event(event_input(starts_in=timedelta(hours=-3)), host)


async def test_an_unknown_time_zone_is_a_400_on_the_form(client):
    from tests.support.accounts import sign_in
    from tests.support.forms import submit

    await sign_in(client, "lee@example.org", role="leader")
    data = event_input(timezone="Atlantis/Capital").__dict__
    response = await submit(client, "/events/new", "/events/new", data)
    assert response.status_code == 400
    assert "Unknown time zone" in response.text and "Atlantis/Capital" in response.text
    assert 'value="House party for the footbridge"' in response.text  # what was typed is kept
    assert await Event.count() == 0


def test_an_invalid_postal_code_or_radius_says_what_to_type():
    with pytest.raises(UserError, match="not a US ZIP code"):
        locate("SW1A 1AA")
    with pytest.raises(UserError, match="could not find"):
        locate("99999")
    with pytest.raises(UserError, match="Choose a distance of 5, 10, 25, 50, 100 miles"):
        check_radius("7")
    assert locate("80202-1234").postal_code == "80202"


async def test_rsvp_to_a_cancelled_event_is_refused_and_leaves_no_trace():
    event = await make_event()
    host = await viewer(role="leader")
    await service.cancel_event(event.id, host, "Rain")
    with pytest.raises(Conflict, match="This event was cancelled"):
        await attend(event, "late@example.org")
    assert await Attendance.count() == 0


async def test_rsvp_to_a_past_event_is_refused():
    event = await make_event()
    past = datetime.now(UTC) - timedelta(days=1)
    await Event.update({Event.starts_at: past - timedelta(hours=2), Event.ends_at: past}).where(
        Event.id == event.id
    )
    with pytest.raises(Conflict, match="This event is over"):
        await attend(event, "late@example.org")


async def test_rsvp_to_a_full_event_joins_the_waitlist_instead():
    event = await make_event(capacity="1")
    assert (await attend(event, "first@example.org")).status == "going"
    second = await attend(event, "second@example.org")
    assert second.status == "waitlisted" and second.position == 1


async def test_rsvp_to_a_pending_event_is_refused():
    member = await viewer("mo@example.org", role="member")
    event = await service.create_event(event_input(), member)
    assert event.status == "pending"
    with pytest.raises(Conflict, match="not open for RSVPs"):
        await attend(event, "early@example.org")


@pytest.mark.parametrize(
    ("person", "guests", "message"),
    [
        (PersonInput(email="nope"), 0, "email"),
        (PersonInput(email="ok@example.org"), 21, "between 0 and 20 guests"),
        (PersonInput(email="ok@example.org"), -1, "between 0 and 20 guests"),
        (PersonInput(email="ok@example.org"), "two", "Guests must be a whole number"),
    ],
)
async def test_bad_rsvp_input_is_refused(person, guests, message):
    event = await make_event()
    with pytest.raises(UserError) as refused:
        await rsvp(event.id, person, guests)
    assert message.lower() in refused.value.message.lower()
    assert await Attendance.count() == 0
