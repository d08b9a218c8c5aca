"""Reminders 24 h and 2 h before, exactly once per attendance and kind, however often the
periodic job runs; none for the waitlist, muted attendees, or events that have started."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.outbox.periodic import periodic_topics
from plugins.events.reminders import TOPIC, queue_due_reminders
from plugins.events.rsvp import mute_attendance
from tests.plugins.events.support import attend, make_event, queued_mail


async def test_the_reminder_job_is_a_periodic_outbox_job():
    assert TOPIC in periodic_topics()


async def test_each_reminder_is_queued_once_however_often_the_job_runs():
    event = await make_event(starts_in=timedelta(hours=20))
    going = await attend(event, "going@example.org")
    assert await queue_due_reminders() == 1
    assert await queue_due_reminders() == 0
    [mail] = await queued_mail("events:reminder:")
    assert mail["key"] == f"events:reminder:{going.attendance_id}:24h"
    assert mail["subject"] == f"Reminder: {event.title} starts tomorrow"

    # Two hours before: the 2-hour reminder, once.
    later = datetime.now(UTC) + timedelta(hours=18, minutes=30)
    assert await queue_due_reminders(now=later) == 1
    assert await queue_due_reminders(now=later) == 0
    keys = [m["key"] for m in await queued_mail("events:reminder:")]
    assert keys == [f"events:reminder:{going.attendance_id}:24h", f"events:reminder:{going.attendance_id}:2h"]


async def test_someone_who_rsvps_within_two_hours_gets_only_the_two_hour_reminder():
    event = await make_event(starts_in=timedelta(hours=1, minutes=59))
    going = await attend(event, "late@example.org")
    await queue_due_reminders()
    await queue_due_reminders()
    assert [m["key"] for m in await queued_mail("events:reminder:")] == [
        f"events:reminder:{going.attendance_id}:2h"
    ]


async def test_no_reminders_for_the_waitlist_muted_attendees_or_far_off_events():
    soon = await make_event(starts_in=timedelta(hours=10), capacity="1")
    await attend(soon, "going@example.org")
    await attend(soon, "waiting@example.org")
    muted = await attend(await make_event(starts_in=timedelta(hours=5)), "muted@example.org")
    await mute_attendance(muted.attendance_id)
    await attend(await make_event(starts_in=timedelta(days=5)), "later@example.org")
    assert await queue_due_reminders() == 1
    assert [m["to"] for m in await queued_mail("events:reminder:")] == ["going@example.org"]


async def test_no_reminder_once_the_event_has_started():
    event = await make_event(starts_in=timedelta(hours=3))
    await attend(event, "going@example.org")
    assert await queue_due_reminders(now=datetime.now(UTC) + timedelta(hours=4)) == 0


async def test_the_periodic_job_sends_the_reminder_through_the_mail_engine(client, data_dir):
    from core.outbox.queue import enqueue
    from tests.support.mailbox import mails
    from tests.support.outbox import wait_for_outbox

    event = await make_event(starts_in=timedelta(hours=1, minutes=59))
    await attend(event, "pat@example.org")
    await enqueue(TOPIC, f"{TOPIC}:test-run-1")
    await enqueue(TOPIC, f"{TOPIC}:test-run-2")
    await wait_for_outbox(topic=TOPIC)
    await wait_for_outbox(topic="mail.send")
    reminders = [
        m for m in mails(data_dir) if m.to == "pat@example.org" and m.subject.startswith("Reminder:")
    ]
    assert len(reminders) == 1 and "starts in about two hours" in reminders[0].subject
