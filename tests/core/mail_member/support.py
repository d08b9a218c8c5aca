"""Members, mailings and deliveries for the member-facing mail tests, and the reports mail
servers send back (DSN, ARF, mailto unsubscribes) built the way real servers write them."""

from __future__ import annotations

import secrets
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from core.mail.message import message_id_for
from core.mailings import links
from core.mailings.tables import Delivery, MailEvent, Mailing
from core.people.service import get_or_create_person
from core.people.tables import Person
from core.settings import current_settings


async def member(email: str = "ada@example.org", **fields: object) -> int:
    person, _ = await get_or_create_person(email, given_name=fields.pop("given_name", "Ada"), **fields)
    return person.id


async def mailing(subject: str = "Save the park") -> int:
    row = Mailing(
        kind="members", subject=subject, body="Hello", source_code=secrets.token_hex(6), status="sent"
    )
    await row.save()
    return row.id


async def delivery(person_id: int, mailing_id: int | None = None) -> tuple[int, int]:
    """(mailing id, delivery id) of a sent delivery to the person."""
    mailing_id = mailing_id or await mailing()
    row = Delivery(mailing=mailing_id, person=person_id, status="sent")
    await row.save()
    return mailing_id, row.id


async def subscription(person_id: int) -> str:
    row = await Person.select(Person.subscription).where(Person.id == person_id).first()
    assert row is not None
    return row["subscription"]


async def events(kind: str | None = None) -> list[dict]:
    query = MailEvent.select().order_by(MailEvent.id)
    if kind:
        query = query.where(MailEvent.kind == kind)
    return await query


def message_id_of(delivery_id: int) -> str:
    return message_id_for(f"delivery:{delivery_id}", current_settings().public_host)


def original_headers(to: str, delivery_id: int | None = None, person_id: int | None = None) -> str:
    """The headers of a campaign email as the sender writes them."""
    lines = [
        "From: Groundswell <noreply@testserver.local>",
        f"To: {to}",
        "Subject: Save the park",
    ]
    if delivery_id is not None:
        lines += [f"Message-ID: {message_id_of(delivery_id)}", f"X-Groundswell-Delivery: {delivery_id}"]
    if person_id is not None:
        lines.append(f"List-Unsubscribe: <{links.unsubscribe_url(person_id)}>")
    return "\n".join(lines) + "\n"


def dsn(
    recipient: str,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 User unknown",
    returned: str = "",
    returned_as: str = "text/rfc822-headers",
) -> bytes:
    """A Postfix-style delivery status notification (RFC 3464)."""
    returned_part = f"--BOUNDARY\nContent-Type: {returned_as}\n\n{returned}\n" if returned else ""
    return (
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
        "To: noreply@testserver.local\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"Message-ID: <{secrets.token_hex(8)}@mx.example.net>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\n'
        "\n"
        "--BOUNDARY\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "I'm sorry to have to inform you that your message could not be delivered.\n"
        "\n"
        "--BOUNDARY\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; mx.example.net\n"
        "Arrival-Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
        "\n"
        f"Final-Recipient: rfc822; {recipient}\n"
        f"Original-Recipient: rfc822;{recipient}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        "Remote-MTA: dns; mail.example.com\n"
        f"Diagnostic-Code: {diagnostic}\n"
        "\n"
        f"{returned_part}"
        "--BOUNDARY--\n"
    ).encode()


def arf(recipient: str | None, *, returned: str, feedback_type: str = "abuse") -> bytes:
    """An abuse report (RFC 5965) as mailbox providers' feedback loops send them; with
    `recipient` None the provider has hidden who complained (as many do)."""
    rcpt = f"Original-Rcpt-To: {recipient}\n" if recipient else ""
    return (
        "From: staff@feedback.example.net\n"
        "To: abuse@testserver.local\n"
        "Subject: FW: Save the park\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="PART"\n'
        "\n"
        "--PART\n"
        "Content-Type: text/plain\n"
        "\n"
        "This is an email abuse report for an email message received from IP 192.0.2.1.\n"
        "\n"
        "--PART\n"
        "Content-Type: message/feedback-report\n"
        "\n"
        f"Feedback-Type: {feedback_type}\n"
        "User-Agent: ExampleFBL/1.0\n"
        "Version: 1\n"
        f"{rcpt}"
        "Original-Mail-From: <noreply@testserver.local>\n"
        "\n"
        "--PART\n"
        "Content-Type: message/rfc822\n"
        "\n"
        f"{returned}\n"
        "Hello\n"
        "--PART--\n"
    ).encode()


def mailto_unsubscribe(sender: str, token: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "noreply@testserver.local"
    message["Subject"] = f"unsubscribe {token}"
    message.set_content("This message was sent automatically to unsubscribe.")
    return bytes(message)


def parsed(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[return-value]
