"""The events pages end to end through HTTP: hosting, finding by ZIP code, RSVPing, the
attendee's own RSVP page (cancel, one-click mute), host tools, calendar files, the action
panel after signing a petition, and HTML escaped in every field."""

from __future__ import annotations

import re
from datetime import timedelta

from core.plugins.testing import assert_only_plugin_api
from plugins.events.tables import Attendance, Event
from plugins.events.tokens import attendance_token
from tests.plugins.events.support import attend, event_input, make_event, queued_mail, viewer
from tests.support.accounts import sign_in
from tests.support.forms import csrf_token_in, submit
from tests.support.petitions import published_petition

HOST = "hana.host@example.org"  # make_event's default host

XSS = "<script>alert(1)</script>"


def test_events_imports_only_the_plugin_api():
    assert_only_plugin_api("plugins.events")


async def test_a_leader_hosts_an_event_from_the_form(client):
    await sign_in(client, "lee@example.org", role="leader")
    response = await submit(client, "/events/new", "/events/new", event_input(capacity="12").__dict__)
    assert response.status_code == 200
    assert "Your event is saved." in response.text and "0</span> going of 12" in response.text
    event = await Event.objects().first()
    assert event.status == "published" and event.host_email == "lee@example.org"


async def test_a_members_event_waits_for_approval_and_is_hidden_until_then(client):
    await sign_in(client, "mo@example.org", role="member")
    response = await submit(client, "/events/new", "/events/new", event_input().__dict__)
    assert "waits for a staff member" in response.text
    event = await Event.objects().first()
    assert (await client.get(f"/events/{event.id}")).status_code == 200  # the host sees it
    anonymous = await _anonymous(client)
    assert (await anonymous.get(f"/events/{event.id}")).status_code == 404
    await sign_in(client, "sta@example.org", role="staff")
    queue = await client.get("/events/moderation")
    assert event.title in queue.text
    await client.post(f"/events/{event.id}/approve", data={"_csrf_token": csrf_token_in(queue.text)})
    assert (await anonymous.get(f"/events/{event.id}")).status_code == 200


async def test_hosting_needs_a_signed_in_member(client):
    response = await client.get("/events/new", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_events_near_a_zip_code_and_a_clear_message_for_a_bad_one(client):
    await make_event(postal_code="80203", title="Capitol Hill house party")
    await make_event(postal_code="10001", title="New York phone bank")
    near = await client.get("/events", params={"postal_code": "80202", "radius": "25"})
    assert near.status_code == 200
    assert "1 event within 25 miles of 80202" in near.text and "Capitol Hill house party" in near.text
    bad = await client.get("/events", params={"postal_code": "hello", "radius": "25"})
    assert bad.status_code == 400 and "is not a US ZIP code" in bad.text
    bad_radius = await client.get("/events", params={"postal_code": "80202", "radius": "1000"})
    assert bad_radius.status_code == 400 and "Choose a distance" in bad_radius.text


async def test_unlisted_events_are_reachable_by_link_but_not_listed(client):
    event = await make_event(visibility="unlisted", title="Quiet planning meeting")
    assert "Quiet planning meeting" not in (await client.get("/events")).text
    page = await client.get(f"/events/{event.id}")
    assert "Quiet planning meeting" in page.text and page.headers["content-type"].startswith("text/html")


async def test_rsvp_on_the_event_page_and_manage_it_from_the_emailed_link(client):
    event = await make_event(capacity="1")
    done = await submit(
        client,
        f"/events/{event.id}",
        f"/events/{event.id}/rsvp",
        {"name": "Rosa Diaz", "email": "rosa@example.org", "postal_code": "80203", "guests": "0"},
    )
    assert done.status_code == 200 and "You're going" in done.text
    second = await submit(
        client,
        f"/events/{event.id}",
        f"/events/{event.id}/rsvp",
        {"name": "Sam Lee", "email": "sam@example.org", "guests": "0"},
    )
    assert "You're on the waitlist" in second.text and "number 1 on the waitlist" in second.text
    [mail] = [m for m in await queued_mail("events:rsvp:") if m["to"] == "rosa@example.org"]
    link = re.search(r"/events/rsvp/[\w.-]+", mail["text"]).group(0)
    page = await client.get(link)
    assert "You're going" in page.text
    cancelled = await client.post(f"{link}/cancel", data={"_csrf_token": csrf_token_in(page.text)})
    assert "Your RSVP is cancelled" in cancelled.text
    assert (
        await Attendance.select(Attendance.status).where(Attendance.person.email == "sam@example.org").first()
    )["status"] == "going"


async def test_one_click_unsubscribe_mutes_the_event_without_a_session(client):
    event = await make_event()
    result = await attend(event, "rosa@example.org")
    fresh = await _anonymous(client)
    response = await fresh.post(f"/events/rsvp/{result.token}/mute", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "no more reminders or messages" in response.text
    assert (await Attendance.select(Attendance.muted).first())["muted"] is True
    assert (await fresh.get(f"/events/rsvp/{result.attendance_id}.forged")).status_code == 404
    assert (
        await fresh.get(f"/events/rsvp/{attendance_token(result.attendance_id, 'other')}")
    ).status_code == 404


async def test_rsvp_refusals_are_shown_on_the_event_page(client):
    event = await make_event()
    response = await submit(
        client,
        f"/events/{event.id}",
        f"/events/{event.id}/rsvp",
        {"name": "Rosa", "email": "rosa@", "guests": "0"},
    )
    assert (
        response.status_code == 400 and "email" in response.text.lower() and 'value="Rosa"' in response.text
    )
    host = await viewer(role="leader")
    from plugins.events import service

    await service.cancel_event(event.id, host)
    page = await client.get(f"/events/{event.id}")
    assert "This event has been cancelled." in page.text and "RSVP</button>" not in page.text


async def test_html_in_every_field_is_shown_as_text(client):
    host = await viewer(role="leader")
    event = await make_event(
        host,
        title=f"Party {XSS}",
        description=f"Fun {XSS}",
        venue=f"Hall {XSS}",
        address=f"1 Main {XSS}",
        locality=f"Town {XSS}",
        region=f"CO {XSS}",
        online_url='https://example.org/"><script>x()</script>',
        host_phone="555 0100",
    )
    await attend(event, "x@example.org")
    from core.plugin_api import PersonInput
    from plugins.events.rsvp import rsvp

    await rsvp(event.id, PersonInput(email="y@example.org", given_name=XSS, family_name=XSS), 0)
    pages = [await client.get(f"/events/{event.id}"), await client.get("/events")]
    await sign_in(client, HOST, role="leader")
    pages += [
        await client.get(f"/events/{event.id}/host"),
        await client.get(f"/events/{event.id}/check-in"),
        await client.get(f"/events/{event.id}/edit"),
    ]
    for page in pages:
        assert page.status_code == 200, page.url
        assert "<script>" not in page.text, page.url
        assert "&lt;script&gt;" in page.text, page.url


async def test_host_tools_are_for_the_host_the_groups_leaders_and_staff_only(client):
    from core.groups.service import add_leader, create_group

    riverside, hilltop = await create_group("Riverside Council"), await create_group("Hilltop Council")
    await add_leader(riverside.id, "lee@example.org")
    await add_leader(hilltop.id, "hal@example.org")
    event = await make_event(group_id=str(riverside.id))
    for outsider, role in (("sam@example.org", "member"), ("hal@example.org", "leader")):
        await sign_in(client, outsider, role=role)
        for path in ("host", "attendees.csv", "check-in", "edit"):
            assert (await client.get(f"/events/{event.id}/{path}")).status_code == 403, (outsider, path)
        assert "Manage this event" not in (await client.get(f"/events/{event.id}")).text
    for insider, role in ((HOST, "leader"), ("lee@example.org", "leader"), ("sta@example.org", "staff")):
        await sign_in(client, insider, role=role)
        assert (await client.get(f"/events/{event.id}/host")).status_code == 200, insider
        assert "Manage this event" in (await client.get(f"/events/{event.id}")).text, insider


async def test_the_host_checks_people_in_without_javascript_and_downloads_the_csv(client):
    event = await make_event()
    result = await attend(event, "rosa@example.org")
    await sign_in(client, HOST, role="leader")
    page = await client.get(f"/events/{event.id}/check-in")
    assert "0 of 1 arrived" in page.text
    after = await client.post(
        f"/events/{event.id}/check-in/{result.attendance_id}",
        data={"_csrf_token": csrf_token_in(page.text), "present": "yes"},
    )
    assert "1 of 1 arrived" in after.text and "Arrived ✓" in after.text
    csv = await client.get(f"/events/{event.id}/attendees.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert "rosa@example.org,,,going,0,,yes" in csv.text


async def test_the_host_messages_cancels_and_reschedules_from_the_dashboard(client):
    event = await make_event()
    await attend(event, "rosa@example.org")
    await sign_in(client, HOST, role="leader")
    sent = await submit(
        client,
        f"/events/{event.id}/host",
        f"/events/{event.id}/message",
        {"subject": "Parking", "body": "Use the lot."},
    )
    assert "on its way to 1 person" in sent.text
    edit = await client.get(f"/events/{event.id}/edit")
    values = {**event_input(starts_in=timedelta(days=6)).__dict__, "_csrf_token": csrf_token_in(edit.text)}
    moved = await client.post(f"/events/{event.id}/edit", data=values)
    assert "told the new time or place" in moved.text
    cancelled = await submit(
        client, f"/events/{event.id}/host", f"/events/{event.id}/cancel", {"reason": "Rain"}
    )
    assert "The event is cancelled" in cancelled.text
    keys = [m["key"].split(":")[1] for m in await queued_mail() if m["to"] == "rosa@example.org"]
    assert keys == ["rsvp", "message", "changed", "cancelled"]


async def test_calendar_files_for_an_event_and_a_group(client):
    from core.groups.service import add_leader, create_group

    group = await create_group("Denver Council")
    await add_leader(group.id, HOST)
    event = await make_event(group_id=str(group.id), title="Council meeting")
    ics = await client.get(f"/events/{event.id}.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert "SUMMARY:Council meeting" in ics.text and "TZID=America/Denver" in ics.text
    feed = await client.get(f"/groups/{group.slug}/events.ics")
    assert feed.status_code == 200 and "SUMMARY:Council meeting" in feed.text
    assert (await client.get("/groups/nobody/events.ics")).status_code == 404
    assert (await client.get("/events/99999999999.ics")).status_code == 404


async def test_after_signing_a_petition_its_events_are_offered(client):
    petition = await published_petition()
    await make_event(
        petition_slug=petition.slug, kind="petition_delivery", title="Deliver the footbridge petition"
    )
    page = await submit(
        client, f"/p/{petition.slug}", f"/p/{petition.slug}/sign", {"name": "Sam", "email": "sam@example.org"}
    )
    assert "Join an event for this petition" in page.text and "Deliver the footbridge petition" in page.text


async def test_after_signing_events_near_the_signer_are_offered(client):
    petition = await published_petition()
    await make_event(postal_code="80203", title="Capitol Hill house party")
    page = await submit(
        client,
        f"/p/{petition.slug}",
        f"/p/{petition.slug}/sign",
        {"name": "Sam", "email": "sam@example.org", "postal_code": "80202"},
    )
    assert "Events near you" in page.text and "Capitol Hill house party" in page.text
    elsewhere = await submit(
        client,
        f"/p/{petition.slug}",
        f"/p/{petition.slug}/sign",
        {"name": "Ny", "email": "ny@example.org", "postal_code": "10001"},
    )
    assert "Events near you" not in elsewhere.text


async def test_a_petition_delivery_names_the_petitions_target(client):
    petition = await published_petition()
    event = await make_event(petition_slug=petition.slug, kind="petition_delivery")
    assert event.petition == petition.id and event.target_name == "Jane Mayor"
    page = await client.get(f"/events/{event.id}")
    assert petition.title in page.text and "to Jane Mayor" in page.text


async def _anonymous(client):
    from tests.support.asgi import browser

    return browser(client._transport.app)
