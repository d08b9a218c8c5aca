"""Host tools: the attendee CSV (escaped, formula-safe), check-in, messages to attendees
(not to those who muted), and cancel/reschedule notifying everyone once per change."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from core.groups.service import add_leader, create_group
from core.plugin_api import Forbidden, UserError
from plugins.events import host_tools, service
from plugins.events.rsvp import check_in, mute_attendance
from plugins.events.tables import Attendance, Event
from tests.plugins.events.support import attend, event_input, make_event, queued_mail, viewer


async def test_the_csv_escapes_commas_quotes_and_formulas():
    event = await make_event()
    from core.plugin_api import PersonInput
    from plugins.events.rsvp import rsvp

    await rsvp(
        event.id,
        PersonInput(email="eve@example.org", given_name='=HYPERLINK("http://x")', family_name="Smith, Jr"),
        1,
    )
    await rsvp(
        event.id, PersonInput(email="bob@example.org", given_name='Bob "the builder"', phone="+1 555 0100"), 0
    )
    text = host_tools.attendees_csv(event, await host_tools.attendees(event.id))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(host_tools.CSV_COLUMNS)
    assert rows[1][0] == '\'=HYPERLINK("http://x") Smith, Jr'
    assert rows[2][0] == 'Bob "the builder"'
    assert rows[2][2] == "'+1 555 0100"
    assert [r[4] for r in rows[1:]] == ["going", "going"]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_cells_that_a_spreadsheet_would_run_are_prefixed(value):
    assert host_tools.safe_cell(value) == "'" + value
    assert host_tools.safe_cell("plain") == "plain"


async def test_check_in_marks_arrivals_and_can_be_undone():
    event = await make_event(capacity="1")
    going = await attend(event, "going@example.org")
    waiting = await attend(event, "waiting@example.org")
    await check_in(event.id, going.attendance_id, present=True)
    assert [a.checked_in for a in await host_tools.attendees(event.id) if a.status == "going"] == [True]
    await check_in(event.id, going.attendance_id, present=False)
    assert (await Attendance.select(Attendance.checked_in_at).first())["checked_in_at"] is None
    with pytest.raises(UserError, match="Only people who are going"):
        await check_in(event.id, waiting.attendance_id, present=True)


async def test_a_message_reaches_attendees_who_did_not_mute_the_event():
    host = await viewer(role="leader")
    event = await make_event(host, capacity="2")
    a = await attend(event, "a@example.org")
    b = await attend(event, "b@example.org")
    await attend(event, "waiting@example.org", guests=2)
    await mute_attendance(b.attendance_id)
    sent = await host_tools.message_attendees(
        event, host, "Bring <signs>", "Meet at the <b>gate</b>.", include_waitlist=False
    )
    assert sent == 1
    [mail] = await queued_mail("events:message:")
    assert mail["to"] == "a@example.org" and mail["subject"] == "Bring <signs>"
    assert "Meet at the <b>gate</b>." in mail["text"] and mail.get("html") is None  # plain text, never markup
    assert mail["key"].endswith(f":{a.attendance_id}")
    assert await host_tools.message_attendees(event, host, "Also", "Waitlist too", include_waitlist=True) == 2


async def test_cancelling_tells_everyone_once_and_closes_rsvps():
    host = await viewer(role="leader")
    event = await make_event(host, capacity="1")
    await attend(event, "going@example.org")
    await attend(event, "waiting@example.org")
    await service.cancel_event(event.id, host, "Storm warning")
    await service.cancel_event(event.id, host, "Storm warning")
    mails = await queued_mail("events:cancelled:")
    assert sorted(m["to"] for m in mails) == ["going@example.org", "waiting@example.org"]
    assert all("Storm warning" in m["text"] and m["subject"] == f"Cancelled: {event.title}" for m in mails)
    assert (await service.get_event(event.id)).status == "cancelled"


async def test_rescheduling_tells_attendees_once_per_change_and_a_title_edit_does_not():
    host = await viewer(role="leader")
    event = await make_event(host)
    await attend(event, "going@example.org")
    same_time = event_input()
    same_time = same_time.__class__(
        **{
            **same_time.__dict__,
            "starts_at": _local(event.starts_at),
            "ends_at": _local(event.ends_at),
            "title": "New title",
        }
    )
    await service.update_event(event.id, same_time, host)
    assert await queued_mail("events:changed:") == []
    later = event_input(starts_in=timedelta(days=4), title="New title")
    updated = await service.update_event(event.id, later, host)
    assert updated.version == 2
    even_later = event_input(starts_in=timedelta(days=5), title="New title")
    await service.update_event(event.id, even_later, host)
    keys = [m["key"] for m in await queued_mail("events:changed:")]
    assert len(keys) == 2 and keys[0].startswith(f"events:changed:{event.id}:v2:") and ":v3:" in keys[1]


async def test_only_the_host_leaders_of_its_group_and_staff_manage_an_event():
    riverside, hilltop = await create_group("Riverside Council"), await create_group("Hilltop Council")
    host = await viewer("hana@example.org", role="member")
    event = await service.create_event(event_input(group_id=str(riverside.id)), host)
    await add_leader(riverside.id, "lee@example.org")
    await add_leader(hilltop.id, "hal@example.org")
    own_leader = await viewer("lee@example.org", role="leader")
    other_leader = await viewer("hal@example.org", role="leader")
    stranger = await viewer("sam@example.org", role="member")
    staff = await viewer("sta@example.org", role="staff")
    assert [await service.may_manage(event, v) for v in (host, own_leader, staff)] == [True] * 3
    assert [await service.may_manage(event, v) for v in (stranger, other_leader, None)] == [False] * 3
    for outsider in (stranger, other_leader):
        with pytest.raises(Forbidden, match="its group's leaders"):
            await service.cancel_event(event.id, outsider)
    await service.cancel_event(event.id, own_leader)
    assert (await Event.select(Event.status).first())["status"] == "cancelled"


async def test_an_event_without_a_group_is_managed_by_its_host_and_staff_alone():
    event = await service.create_event(event_input(), await viewer("hana@example.org"))
    await add_leader((await create_group("Riverside Council")).id, "lee@example.org")
    assert not await service.may_manage(event, await viewer("lee@example.org", role="leader"))
    assert await service.may_manage(event, await viewer("sta@example.org", role="staff"))


async def test_a_leader_demoted_to_member_no_longer_manages_the_groups_events():
    riverside = await create_group("Riverside Council")
    event = await service.create_event(
        event_input(group_id=str(riverside.id)), await viewer("hana@example.org")
    )
    await add_leader(riverside.id, "lee@example.org")
    demoted = await viewer("lee@example.org", role="member")  # the group still lists the login
    assert not await service.may_manage(event, demoted)


async def test_member_events_wait_for_staff_and_leader_events_do_not():
    member_event = await service.create_event(event_input(), await viewer("mo@example.org", role="member"))
    leader_event = await service.create_event(event_input(), await viewer("lee@example.org", role="leader"))
    assert (member_event.status, leader_event.status) == ("pending", "published")
    assert [e.id for e in await service.upcoming_events()] == [leader_event.id]
    staff = await viewer("sta@example.org", role="staff")
    with pytest.raises(Forbidden):
        await service.moderate_event(member_event.id, await viewer("mo@example.org"), approve=True)
    await service.moderate_event(member_event.id, staff, approve=True)
    assert len(await service.upcoming_events()) == 2


async def test_a_leaders_event_for_another_group_waits_for_staff_and_for_their_own_does_not():
    riverside, hilltop = await create_group("Riverside Council"), await create_group("Hilltop Council")
    await add_leader(riverside.id, "lee@example.org")
    lee = await viewer("lee@example.org", role="leader")
    own = await service.create_event(event_input(group_id=str(riverside.id)), lee)
    other = await service.create_event(event_input(group_id=str(hilltop.id)), lee)
    assert (own.status, other.status) == ("published", "pending")
    with pytest.raises(Forbidden, match="moves to another group only with that group's leaders"):
        await service.update_event(own.id, event_input(group_id=str(hilltop.id)), lee)
    staff = await viewer("sta@example.org", role="staff")
    moved = await service.update_event(own.id, event_input(group_id=str(hilltop.id)), staff)
    assert moved.group == hilltop.id


def _local(moment):
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("America/Denver")).strftime("%Y-%m-%dT%H:%M")
