"""Bounces (RFC 3464 DSNs), complaints (ARF, RFC 5965) and mailto unsubscribes: parsed from
what mail servers really send, attributed to the delivery they are about, and never mailed
again."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import UserError
from core.mailings import links
from core.mailings.bounce_reports import Finding, read_message
from core.mailings.bounces import process_files
from core.mailings.suppression import (
    record_bounce,
    record_complaint,
    resubscribe,
    suppressed_email_keys,
    suppression_of,
)
from core.mailings.tables import Delivery, MailEvent

from .support import (
    arf,
    delivery,
    dsn,
    events,
    mailto_unsubscribe,
    member,
    message_id_of,
    original_headers,
    parsed,
    subscription,
)


async def _delivery_status(delivery_id: int) -> str:
    row = await Delivery.select(Delivery.status).where(Delivery.id == delivery_id).first()
    return row["status"]


# -- parsing ---------------------------------------------------------------------------------------


def test_a_permanent_failure_is_hard_and_a_delay_or_4xx_is_soft():
    [hard] = read_message(parsed(dsn("ada@example.org", returned=original_headers("ada@example.org", 7))))
    assert (hard.kind, hard.email, hard.delivery_id) == ("hard", "ada@example.org", 7)
    assert hard.message_id == message_id_of(7)
    assert "5.1.1" in hard.detail and "User unknown" in hard.detail
    [delayed] = read_message(parsed(dsn("ada@example.org", action="delayed", status="4.4.1")))
    assert delayed.kind == "soft"
    [full] = read_message(
        parsed(dsn("ada@example.org", status="4.2.2", diagnostic="smtp; 452 4.2.2 Mailbox full"))
    )
    assert full.kind == "soft"
    assert read_message(parsed(dsn("ada@example.org", action="delivered", status="2.0.0"))) == []


def test_the_original_message_may_come_back_whole():
    raw = dsn(
        "ada@example.org",
        returned=original_headers("ada@example.org", 9) + "\nHello\n",
        returned_as="message/rfc822",
    )
    [finding] = read_message(parsed(raw))
    assert (finding.delivery_id, finding.message_id) == (9, message_id_of(9))


def test_an_abuse_report_names_the_recipient_or_carries_the_signed_unsubscribe_link():
    returned = original_headers("ada@example.org", 3, person_id=42)
    [named] = read_message(parsed(arf("ada@example.org", returned=returned)))
    assert (named.kind, named.email, named.delivery_id) == ("complaint", "ada@example.org", 3)
    [redacted] = read_message(parsed(arf(None, returned=original_headers("redacted", 3, person_id=42))))
    assert redacted.email is None
    assert links.read_unsubscribe_token(redacted.token or "") == (42, None)
    assert read_message(parsed(arf("ada@example.org", returned=returned, feedback_type="not-spam"))) == []


def test_an_out_of_office_reply_is_not_understood():
    message = parsed(
        b"From: ada@example.org\nTo: noreply@testserver.local\nSubject: Out of office\n\nBack Monday.\n"
    )
    assert read_message(message) == []


# -- acting on them ---------------------------------------------------------------------------------


async def test_a_hard_bounce_suppresses_the_address_and_marks_the_delivery_it_matches():
    person = await member("ada@example.org")
    await delivery(person)
    mailing_id, delivery_id = await delivery(person)
    assert (
        await record_bounce(
            "Ada@Example.org", hard=True, detail="5.1.1", message_id=message_id_of(delivery_id)
        )
        == "bounce"
    )
    assert await subscription(person) == "bounced"
    assert await suppression_of("ada@example.org") == "bounce"
    assert await _delivery_status(delivery_id) == "bounced"
    [event] = await events("bounce")
    assert (event["person"], event["delivery"], event["mailing"]) == (person, delivery_id, mailing_id)
    assert await suppressed_email_keys(["ada@example.org", "bob@example.org"]) == {"ada@example.org"}


async def test_a_delivery_header_attributes_a_bounce_but_only_to_that_persons_own_delivery():
    ada = await member("ada@example.org")
    bob = await member("bob@example.org")
    _, ada_delivery = await delivery(ada)
    _, bob_delivery = await delivery(bob)
    await record_bounce("ada@example.org", hard=True, detail="x", delivery_id=bob_delivery)
    assert await _delivery_status(bob_delivery) == "sent"
    assert await subscription(bob) == "subscribed"
    [event] = await events("bounce")
    assert event["delivery"] is None
    await record_bounce("bob@example.org", hard=True, detail="x", delivery_id=bob_delivery)
    assert await _delivery_status(bob_delivery) == "bounced"
    assert await _delivery_status(ada_delivery) == "sent"


async def test_an_unknown_address_is_suppressed_all_the_same():
    await record_bounce("stranger@example.net", hard=True, detail="5.1.1")
    await record_complaint("angry@example.net", detail="abuse")
    assert await suppressed_email_keys(["stranger@example.net", "angry@example.net"]) == {
        "stranger@example.net",
        "angry@example.net",
    }
    assert await events() == []


async def test_three_soft_bounces_within_thirty_days_count_as_a_hard_one():
    person = await member("ada@example.org")
    deliveries = [(await delivery(person))[1] for _ in range(3)]
    assert (
        await record_bounce("ada@example.org", hard=False, detail="4.2.2 full", delivery_id=deliveries[0])
        == "soft_bounce"
    )
    # an old soft bounce does not count
    await MailEvent.update({MailEvent.created_at: datetime.now(UTC) - timedelta(days=31)}).where(
        MailEvent.kind == "soft_bounce"
    )
    assert (
        await record_bounce("ada@example.org", hard=False, detail="4.2.2 full", delivery_id=deliveries[1])
        == "soft_bounce"
    )
    assert await subscription(person) == "subscribed"
    assert await suppression_of("ada@example.org") is None
    await record_bounce("ada@example.org", hard=False, detail="4.2.2 full", delivery_id=deliveries[2])
    assert (
        await record_bounce(
            "ada@example.org", hard=False, detail="4.2.2 again", message_id=message_id_of(deliveries[0])
        )
        == "soft_bounce"
    )
    # the same delivery's second report does not count twice: still two recent ones
    assert await subscription(person) == "subscribed"
    _, fourth = await delivery(person)
    assert (
        await record_bounce("ada@example.org", hard=False, detail="4.2.2 full", delivery_id=fourth)
        == "bounce"
    )
    assert await subscription(person) == "bounced"
    assert await suppression_of("ada@example.org") == "bounce"
    assert await _delivery_status(fourth) == "bounced"


async def test_a_complaint_outranks_everything_and_resubscribing_is_the_members_own_choice():
    person = await member("ada@example.org")
    mailing_id, delivery_id = await delivery(person)
    await record_bounce("ada@example.org", hard=True, detail="5.1.1")
    await record_complaint("ada@example.org", detail="abuse report", message_id=message_id_of(delivery_id))
    assert await subscription(person) == "complained"
    assert await suppression_of("ada@example.org") == "complaint"
    [event] = await events("complaint")
    assert (event["delivery"], event["mailing"]) == (delivery_id, mailing_id)
    assert await resubscribe(person) is True
    assert await subscription(person) == "subscribed"
    assert await suppression_of("ada@example.org") is None


async def test_a_bad_address_is_a_user_error():
    with pytest.raises(UserError):
        await record_bounce("not an address", hard=True, detail="")


# -- files -------------------------------------------------------------------------------------------


def _mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(path)
    for raw in messages:
        box.add(raw)
    box.flush()
    box.close()
    return path


async def test_an_mbox_of_reports_is_applied_and_summarised_and_reading_it_again_changes_nothing(tmp_path):
    ada = await member("ada@example.org")
    bob = await member("bob@example.org")
    cy = await member("cy@example.org")
    dee = await member("dee@example.org")
    _, ada_delivery = await delivery(ada)
    mailing_id, dee_delivery = await delivery(dee)
    two_failed = dsn("ada@example.org", returned=original_headers("ada@example.org", ada_delivery)).replace(
        b"\n--BOUNDARY\nContent-Type: text/rfc822-headers",
        b"\nFinal-Recipient: rfc822; eve@example.net\nAction: failed\nStatus: 5.1.2\n\n"
        b"--BOUNDARY\nContent-Type: text/rfc822-headers",
    )
    path = _mbox(
        tmp_path / "bounces.mbox",
        [
            two_failed,
            dsn("bob@example.org", action="delayed", status="4.4.7"),
            arf(None, returned=original_headers("undisclosed", person_id=cy)),
            mailto_unsubscribe("dee@example.org", links.unsubscribe_token(dee, mailing_id)),
            mailto_unsubscribe("x@example.org", "forged.token"),
            b"From: someone@example.org\nSubject: hello\n\nJust saying hi.\n",
        ],
    )
    summary = await process_files([path])
    assert (
        summary.line() == "6 messages: 2 hard bounces, 1 soft, 1 complaint, 1 unsubscribe, 2 not understood"
    )
    assert [await subscription(p) for p in (ada, bob, cy, dee)] == [
        "bounced",
        "subscribed",
        "complained",
        "unsubscribed",
    ]
    assert await suppression_of("eve@example.net") == "bounce"
    assert await _delivery_status(ada_delivery) == "bounced"
    [unsubscribed] = await events("unsubscribe")
    assert (unsubscribed["mailing"], unsubscribed["delivery"], unsubscribed["detail"]) == (
        mailing_id,
        dee_delivery,
        "mailto",
    )
    counted = len(await events())
    await process_files([path])
    assert len(await events()) == counted


async def test_a_directory_of_eml_files_is_read(tmp_path):
    ada = await member("ada@example.org")
    folder = tmp_path / "bounced"
    folder.mkdir()
    (folder / "1.eml").write_bytes(dsn("ada@example.org"))
    (folder / "2.eml").write_bytes(dsn("ben@example.org", status="5.7.1"))
    (folder / "notes.txt").write_text("not mail")
    summary = await process_files([folder])
    assert (
        summary.line() == "2 messages: 2 hard bounces, 0 soft, 0 complaints, 0 unsubscribes, 0 not understood"
    )
    assert await subscription(ada) == "bounced"


async def test_a_maildir_is_read(tmp_path):
    ada = await member("ada@example.org")
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(dsn("ada@example.org"))
    maildir.close()
    summary = await process_files([tmp_path / "Maildir"])
    expected = "1 message: 1 hard bounce, 0 soft, 0 complaints, 0 unsubscribes, 0 not understood"
    assert summary.line() == expected
    assert await subscription(ada) == "bounced"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.mbox", None, "missing.mbox does not exist"),
        ("empty.eml", b"", "empty.eml is empty"),
        ("x.bin", b"\x00\x01\x02PK", "x.bin is not an email or mbox file: it contains binary data"),
        (
            "people.csv",
            b"email,name\na@b.org,A\n",
            "people.csv is not an email or mbox file: it has no mail headers",
        ),
        ("folder", "dir", "folder is a directory without .eml files"),
    ],
)
async def test_a_file_that_is_not_mail_is_refused_before_anything_is_applied(
    tmp_path, name, content, message
):
    good = tmp_path / "good.eml"
    good.write_bytes(dsn("ada@example.org"))
    bad = tmp_path / name
    if content == "dir":
        bad.mkdir()
    elif content is not None:
        bad.write_bytes(content)
    with pytest.raises(UserError, match=message):
        await process_files([good, bad])
    assert await suppression_of("ada@example.org") is None


def test_findings_are_plain_values():
    assert Finding("hard", "a@example.org") == Finding("hard", "a@example.org", "")
