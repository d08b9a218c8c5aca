"""OSDI: events (HAL collection and resource), an event's attendances (member data: staff and
the host only) and record_attendance_helper; the entry point links osdi:events."""

from __future__ import annotations

from core.accounts.api_tokens import create_api_token
from core.accounts.logins import ensure_login
from plugins.events.tables import Attendance
from tests.plugins.events.support import attend, make_event, viewer

HEADER = "OSDI-API-Token"


async def token(role: str, email: str | None = None) -> dict[str, str]:
    login = await ensure_login(email or f"{role}@example.org", role)
    issued = await create_api_token(login.id, f"{role} events test token")
    return {HEADER: issued.secret}


async def test_the_entry_point_links_the_events_collection(client):
    body = (await client.get("/api/v1/", headers=await token("member"))).json()
    assert body["_links"]["osdi:events"]["href"] == "http://testserver.local/api/v1/events"


async def test_members_list_public_events_and_staff_see_all(client):
    listed = await make_event(title="Rally at the Capitol", capacity="30")
    await make_event(title="Quiet meeting", visibility="unlisted")
    member = await client.get("/api/v1/events", headers=await token("member"))
    assert member.status_code == 200 and member.headers["content-type"].startswith("application/hal+json")
    body = member.json()
    assert body["total_records"] == 1
    [item] = body["_embedded"]["osdi:events"]
    assert (
        item["title"] == "Rally at the Capitol" and item["capacity"] == 30 and item["status"] == "confirmed"
    )
    assert (
        item["start_date"] == listed.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        and item["time_zone"] == "America/Denver"
    )
    assert item["location"]["postal_code"] == "80202" and "latitude" in item["location"]["location"]
    assert "host_email" not in item and "hana" not in str(item)
    staff = (await client.get("/api/v1/events", headers=await token("staff"))).json()
    assert staff["total_records"] == 2
    assert (await client.get("/api/v1/events")).status_code == 401


async def test_one_event_counts_the_people_going(client):
    event = await make_event()
    await attend(event, "a@example.org", guests=2)
    body = (await client.get(f"/api/v1/events/{event.id}", headers=await token("member"))).json()
    assert body["total_accepted"] == 3
    assert body["_links"]["osdi:attendances"]["href"].endswith(f"/api/v1/events/{event.id}/attendances")
    assert (await client.get("/api/v1/events/999999", headers=await token("member"))).status_code == 404


async def test_attendances_are_member_data_for_staff_and_the_host(client):
    """A leader who is not the host and leads no group of the event reads none of it."""
    host = await viewer("hana@example.org", role="leader")
    event = await make_event(host, capacity="1")
    await attend(event, "a@example.org")
    await attend(event, "b@example.org")
    path = f"/api/v1/events/{event.id}/attendances"
    assert (await client.get(path, headers=await token("member", "sam@example.org"))).status_code == 403
    as_host = await client.get(path, headers=await token("leader", "hana@example.org"))
    assert as_host.status_code == 200
    another_leader = await client.get(path, headers=await token("leader", "lee@example.org"))
    assert another_leader.status_code == 403 and "its group's leaders" in another_leader.json()["message"]
    body = (await client.get(path, headers=await token("staff"))).json()
    assert [a["status"] for a in body["_embedded"]["osdi:attendances"]] == ["accepted", "tentative"]
    first = body["_embedded"]["osdi:attendances"][0]
    assert first["_links"]["osdi:person"]["href"].startswith("http://testserver.local/api/v1/people/")
    one = await client.get(
        first["_links"]["self"]["href"].replace("http://testserver.local", ""), headers=await token("staff")
    )
    assert one.json()["identifiers"] == first["identifiers"]


async def test_record_attendance_helper_rsvps_checks_in_and_declines(client):
    event = await make_event()
    staff = await token("staff")
    helper = f"/api/v1/events/{event.id}/record_attendance_helper"
    person = {"given_name": "Rosa", "email_addresses": [{"address": "rosa@example.org", "primary": True}]}
    created = await client.post(
        helper, json={"person": person, "status": "accepted", "attended": True}, headers=staff
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "accepted" and created.json()["attended"] is True
    again = await client.post(helper, json={"person": person, "status": "accepted"}, headers=staff)
    assert again.status_code == 200 and await Attendance.count() == 1
    declined = await client.post(helper, json={"person": person, "status": "declined"}, headers=staff)
    assert declined.json()["status"] == "declined"


async def test_record_attendance_helper_refuses_bad_input_clearly(client):
    event = await make_event()
    staff = await token("staff")
    helper = f"/api/v1/events/{event.id}/record_attendance_helper"
    person = {"email_addresses": [{"address": "rosa@example.org"}]}
    for body, message in [
        ({"person": person, "status": "maybe"}, "status"),
        ({"person": {"email_addresses": []}}, "email"),
        ({"person": person, "guests": "two"}, "guests"),
        ({"person": person, "attended": "yes"}, "attended"),
        ({"status": "accepted"}, "person"),
    ]:
        response = await client.post(helper, json=body, headers=staff)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["message"]
    assert (
        await client.post(helper, json={"person": person}, headers=await token("member"))
    ).status_code == 403
