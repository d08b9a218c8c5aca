"""The sender against a real SMTP server: everyone once, over a reused connection, with send-time
checks (subscription, suppression, topics, the frequency cap), retries with backoff on 4xx
and outages, failures with the server's words on 5xx, halting and resuming, scheduling."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

import core.mail.outbox  # noqa: F401  (registers the transactional mail handler)
from core.errors import Conflict, UserError
from core.instance_settings import set_policy
from core.mail.message import message_id_for
from core.mail.queue import TOPIC as MAIL_TOPIC
from core.mailings.sending import MAX_ATTEMPTS, TokenBucket, run_sender
from core.mailings.service import (
    cancel,
    create_mailing,
    get_mailing,
    halt,
    resume,
    schedule,
    send_now,
    send_test,
    start_scheduled,
)
from core.mailings.tables import Delivery, Mailing, MailPreference, SuppressedAddress
from core.outbox import drain
from core.people.tables import Person
from tests.core.mailings.conftest import add_members, add_signers, make_deliveries_due, send_all, statuses
from tests.support.petitions import published_petition
from tests.support.smtp import unused_port, url_for_port

pytestmark = pytest.mark.usefixtures("unlimited")


async def members_mailing(**fields) -> int:
    return await create_mailing(
        kind="members",
        author_login_id=None,
        subject=fields.pop("subject", "News for {{ given_name }}"),
        body=fields.pop("body", "Hello {{ given_name }}, [read more](https://example.org/news)."),
        audience=fields.pop("audience", {"all": True}),
        **fields,
    )


async def deliveries(mailing_id: int) -> dict[int, dict]:
    rows = await Delivery.select().where(Delivery.mailing == mailing_id)
    return {row["person"]: row for row in rows}


async def mailing_status(mailing_id: int) -> str:
    return (await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first())["status"]


async def test_a_mailing_reaches_every_member_exactly_once_over_a_reused_connection(smtp) -> None:
    people = await add_members(30)
    mailing_id = await members_mailing()

    assert await send_now(mailing_id) == 30
    await send_all()

    messages = smtp.wait_for(30)
    assert Counter(m.recipients[0] for m in messages) == Counter(f"member{n}@example.org" for n in range(30))
    assert smtp.connections == 1
    assert await statuses(mailing_id) == {"sent": 30}
    assert await mailing_status(mailing_id) == "sent"
    by_person = await deliveries(mailing_id)
    first = next(m for m in messages if m.recipients == ("member0@example.org",))
    # Bounce attribution relies on this Message-ID.
    assert first.message["Message-ID"] == message_id_for(
        f"delivery:{by_person[people[0]]['id']}", "testserver.local"
    )
    assert first.message["X-Groundswell-Delivery"] == str(by_person[people[0]]["id"])
    assert first.message["Subject"] == "News for Member0"
    assert first.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first.message.get_body(preferencelist=("plain",)) is not None
    assert first.message.get_body(preferencelist=("html",)) is not None
    assert all(row["sent_at"] is not None for row in by_person.values())
    assert (await get_mailing(mailing_id))["recipients"] == 30


async def test_the_sender_name_and_reply_to_are_the_mailings(smtp) -> None:
    await add_members(1)
    mailing_id = await members_mailing(from_name="Riverside Council", reply_to="team@example.org")
    await send_now(mailing_id)
    await send_all()
    [mail] = smtp.wait_for(1)
    assert str(mail.message["From"]).startswith("Riverside Council <")
    assert mail.message["Reply-To"] == "team@example.org"


async def test_members_who_changed_their_minds_after_resolution_are_skipped_with_the_reason(smtp) -> None:
    people = await add_members(5)
    mailing_id = await members_mailing()
    await send_now(mailing_id)
    # Between resolution and sending:
    await Person.update({Person.subscription: "unsubscribed"}).where(Person.id == people[0])
    await SuppressedAddress.insert(SuppressedAddress(email_key="member1@example.org", reason="bounce"))
    await MailPreference.insert(MailPreference(person=people[2], topics_off=["campaigns"]))

    await send_all()

    assert {m.recipients[0] for m in smtp.wait_for(2)} == {"member3@example.org", "member4@example.org"}
    rows = await deliveries(mailing_id)
    assert (
        rows[people[0]]["status"] == "skipped" and rows[people[0]]["error"] == "not subscribed (unsubscribed)"
    )
    assert rows[people[1]]["error"] == "address suppressed (bounced or complained)"
    assert rows[people[2]]["error"] == "turned off campaigns emails"
    assert await mailing_status(mailing_id) == "sent"


async def test_a_message_another_mailing_is_sending_right_now_counts_toward_the_cap(smtp) -> None:
    await set_policy("mail_frequency_cap", 1)
    people = await add_members(2)
    first = await members_mailing()
    await send_now(first)
    # The first mailing's sender has claimed member0's message and is sending it this moment.
    await Delivery.update({Delivery.status: "sending", Delivery.lease_until: time.time() + 300}).where(
        (Delivery.mailing == first) & (Delivery.person == people[0])
    )
    second = await members_mailing()
    await send_now(second)
    await send_all()

    rows = await deliveries(second)
    assert rows[people[0]]["status"] == "skipped" and rows[people[0]]["error"] == "frequency cap"
    assert rows[people[1]]["error"] == "frequency cap" or rows[people[1]]["status"] == "sent"
    sent = Counter(m.recipients[0] for m in smtp.messages)
    assert sent["member1@example.org"] == 1 and sent["member0@example.org"] == 0


async def test_the_frequency_cap_counts_every_mailing_of_the_last_seven_days(smtp) -> None:
    await set_policy("mail_frequency_cap", 2)
    people = await add_members(3)
    await MailPreference.insert(MailPreference(person=people[2], max_per_week=1))
    petition = await published_petition("Save the park")
    await add_signers(petition.id, people)
    # A leader's mailing to signers counts toward the cap like any campaign email.
    first = await create_mailing(
        kind="signers", author_login_id=None, petition_id=petition.id, subject="Thanks", body="Thank you!",
        audience={},
    )  # fmt: skip
    await send_now(first)
    await send_all()
    # Transactional mail (a test send) does not count.
    await send_test(first, "leader@example.org")
    for _ in range(2):
        mailing_id = await members_mailing()
        await send_now(mailing_id)
        await send_all()

    rows = await deliveries(mailing_id)
    assert rows[people[0]]["status"] == "skipped" and rows[people[0]]["error"] == "frequency cap"
    assert rows[people[2]]["error"] == "frequency cap"  # their own limit: 1 a week
    sent = Counter(m.recipients[0] for m in smtp.messages)
    assert sent["member0@example.org"] == 2 and sent["member2@example.org"] == 1

    # Mail older than seven days no longer counts.
    week_ago = datetime.now(UTC) - timedelta(days=8)
    await Delivery.update({Delivery.sent_at: week_ago}).where(Delivery.status == "sent")
    later = await members_mailing()
    await send_now(later)
    await send_all()
    assert await statuses(later) == {"sent": 3}


async def test_a_4xx_answer_mid_batch_is_retried_with_backoff_and_the_rest_go_out(smtp) -> None:
    await add_members(4)
    smtp.refuse("member1@example.org", "451 4.7.1 Greylisted, try again later")
    mailing_id = await members_mailing()
    await send_now(mailing_id)
    before = time.time()

    await send_all()

    assert {m.recipients[0] for m in smtp.wait_for(3)} == {f"member{n}@example.org" for n in (0, 2, 3)}
    [grey] = await Delivery.select().where(Delivery.status == "queued")
    assert "451 4.7.1 Greylisted" in grey["error"]
    assert grey["available_at"] > before + 20  # backed off
    assert await mailing_status(mailing_id) == "sending"

    smtp.accept("member1@example.org")
    await make_deliveries_due()
    await send_all()
    assert len(smtp.wait_for(4)) == 4
    assert await statuses(mailing_id) == {"sent": 4}
    assert await mailing_status(mailing_id) == "sent"


async def test_a_4xx_that_never_clears_fails_the_delivery_with_the_last_reason(smtp) -> None:
    await add_members(1)
    smtp.refuse("member0@example.org", "452 4.2.2 Mailbox full")
    mailing_id = await members_mailing()
    await send_now(mailing_id)
    for _ in range(MAX_ATTEMPTS):
        await make_deliveries_due()
        await send_all()
    [row] = (await deliveries(mailing_id)).values()
    assert row["status"] == "failed"
    assert row["error"].startswith(f"gave up after {MAX_ATTEMPTS} attempts: ")
    assert "452 4.2.2 Mailbox full" in row["error"]
    assert await mailing_status(mailing_id) == "sent"


async def test_a_5xx_answer_fails_that_delivery_with_the_servers_reason(smtp) -> None:
    await add_members(3)
    smtp.refuse("member1@example.org", "550 5.1.1 No such user here")
    mailing_id = await members_mailing()
    await send_now(mailing_id)
    await send_all()
    assert len(smtp.wait_for(2)) == 2
    failed = await Delivery.select().where(Delivery.status == "failed")
    assert len(failed) == 1 and "550 5.1.1 No such user here" in failed[0]["error"]
    assert failed[0]["attempts"] == 1
    assert await mailing_status(mailing_id) == "sent"


async def test_a_server_that_is_down_delays_the_batch_without_spending_its_attempts(
    sender_settings, smtp
) -> None:
    await add_members(5)
    sender_settings(smtp_url=url_for_port(unused_port()))
    mailing_id = await members_mailing()
    await send_now(mailing_id)

    await send_all()

    rows = list((await deliveries(mailing_id)).values())
    assert {row["status"] for row in rows} == {"queued"}
    assert sorted(row["attempts"] for row in rows) == [0, 0, 0, 0, 1]  # only the one tried
    assert all("cannot reach the mail server" in row["error"] for row in rows)
    assert all(row["available_at"] > time.time() + 20 for row in rows)

    sender_settings(smtp_url=smtp.url())  # the server is back
    await make_deliveries_due()
    await send_all()
    assert len(smtp.wait_for(5)) == 5
    assert await statuses(mailing_id) == {"sent": 5}


async def test_an_empty_audience_is_refused_and_the_mailing_stays_a_draft() -> None:
    await add_members(2, region="NY")
    mailing_id = await members_mailing(audience={"region": "CA"})
    with pytest.raises(UserError) as caught:
        await send_now(mailing_id)
    assert "Nobody in this audience can be mailed (Members in CA)" in caught.value.message
    assert await mailing_status(mailing_id) == "draft"
    assert await Delivery.count() == 0


async def test_a_mailing_is_sent_once_however_often_send_is_pressed(smtp) -> None:
    await add_members(2)
    mailing_id = await members_mailing()
    await send_now(mailing_id)
    with pytest.raises(Conflict):
        await send_now(mailing_id)
    await send_all()
    assert len(smtp.wait_for(2)) == 2


async def test_a_halted_mailing_stops_between_batches_and_resumes_where_it_stopped(smtp) -> None:
    await add_members(120)
    mailing_id = await members_mailing()
    await send_now(mailing_id)
    await halt(mailing_id, "Wrong link in the email")
    outcome = await run_sender(mailing_id)
    assert outcome.stopped == "halted" and outcome.sent == 0
    assert await statuses(mailing_id) == {"queued": 120}

    await resume(mailing_id)
    await send_all()
    assert len(smtp.wait_for(120)) == 120
    mailing = await get_mailing(mailing_id)
    assert mailing["status"] == "sent"
    assert mailing["halted_reason"] == "Wrong link in the email"  # on record
    with pytest.raises(Conflict):
        await resume(mailing_id)


async def test_cancelling_a_halted_mailing_skips_what_was_not_sent() -> None:
    await add_members(3)
    mailing_id = await members_mailing()
    await send_now(mailing_id)
    await halt(mailing_id, "")
    await cancel(mailing_id)
    assert await statuses(mailing_id) == {"skipped": 3}
    assert await mailing_status(mailing_id) == "cancelled"


async def test_a_scheduled_mailing_starts_when_its_time_has_come(smtp) -> None:
    await add_members(2)
    mailing_id = await members_mailing()
    when = datetime.now(UTC) + timedelta(hours=1)
    await schedule(mailing_id, when)
    assert await start_scheduled() == []
    assert await start_scheduled(now=when + timedelta(seconds=1)) == [mailing_id]
    await send_all()
    assert len(smtp.wait_for(2)) == 2
    assert await mailing_status(mailing_id) == "sent"


async def test_a_scheduled_mailing_whose_audience_emptied_is_halted_with_the_reason() -> None:
    people = await add_members(1)
    mailing_id = await members_mailing()
    when = datetime.now(UTC) + timedelta(minutes=5)
    await schedule(mailing_id, when)
    await Person.update({Person.subscription: "unsubscribed"}).where(Person.id == people[0])
    assert await start_scheduled(now=when) == []
    mailing = await get_mailing(mailing_id)
    assert mailing["status"] == "halted"
    assert mailing["halted_reason"].startswith(
        "Could not start at the scheduled time: Nobody in this audience"
    )


async def test_scheduling_in_the_past_or_without_a_timezone_is_refused() -> None:
    await add_members(1)
    mailing_id = await members_mailing()
    with pytest.raises(UserError):
        await schedule(mailing_id, datetime.now(UTC) - timedelta(minutes=1))
    with pytest.raises(UserError):
        await schedule(mailing_id, datetime.now() + timedelta(hours=1))


async def test_a_test_send_goes_to_the_author_marked_as_a_test_with_a_real_members_fields(data_dir) -> None:
    petition = await published_petition("Save the park")
    people = await add_members(1, prefix="signer")
    await add_signers(petition.id, people)
    mailing_id = await create_mailing(
        kind="signers", author_login_id=None, petition_id=petition.id, subject="Hi {{ given_name }}",
        body="Dear {{ given_name }}, please share.", audience={},
    )  # fmt: skip
    await send_test(mailing_id, "leader@example.org")
    assert (await drain(MAIL_TOPIC))["done"] == 1
    from tests.support.mailbox import mail_to

    mail = mail_to(data_dir, "leader@example.org", "[Test] Hi Signer0")
    assert "Dear Signer0, please share." in mail.text
    assert "signer0@example.org" not in mail.text
    assert await Delivery.count() == 0  # no delivery row: it counts toward nobody's cap


async def test_the_rate_limit_spaces_sends_out() -> None:
    bucket = TokenBucket(20)
    started = time.monotonic()
    for _ in range(40):  # 20 at once (one second's burst), then 20 more at 20 a second
        await bucket.take()
    assert 0.85 < time.monotonic() - started < 2.5


async def test_on_the_embedded_default_campaign_mail_lands_in_the_mail_folder_intact(
    sender_settings, tmp_path
) -> None:
    """No SMTP server configured: messages are files an admin reads at /admin/mail. Names and
    subjects beyond ASCII survive the trip (RFC 2047 headers, UTF-8 bodies)."""
    from email import policy
    from email.parser import BytesParser

    await add_members(1, given_name="Zoë", family_name="Ångström")
    settings = sender_settings(smtp_url="", data_dir=tmp_path)
    subject = "“Monday” matters, {{ given_name }}"
    mailing_id = await members_mailing(subject=subject, from_name="Rivière Council")
    await send_now(mailing_id)
    await send_all()

    [path] = settings.mail_dir.glob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert message["Subject"] == "“Monday” matters, Zoë"
    assert message["To"].addresses[0].display_name == "Zoë Ångström"
    assert message["From"].addresses[0].display_name == "Rivière Council"
    assert "Hello Zoë," in message.get_body(preferencelist=("plain",)).get_content()
    assert "Hello Zoë," in message.get_body(preferencelist=("html",)).get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert await statuses(mailing_id) == {"sent": 1}
