"""Turning an OutgoingMail into a standards-compliant MIME message."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

# RFC 5322 field names: printable ASCII except the colon, no spaces.
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_RESERVED = frozenset({"from", "to", "subject", "date", "message-id"})


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OutgoingMail:
        return cls(
            to=payload["to"],
            subject=payload["subject"],
            text=payload["text"],
            html=payload.get("html"),
            headers=dict(payload.get("headers") or {}),
        )


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID derived from the outbox key: a retried send carries the same id, so
    receiving systems can recognise a duplicate."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(mail: OutgoingMail, *, sender: str, key: str | None, domain: str) -> EmailMessage:
    """Raises ValueError when the mail cannot become a valid message (a line break in a
    header, no recipient address): retrying would never help, so the caller gives up."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    if not any(address.domain for address in message["To"].addresses):
        raise ValueError(f"no recipient address in {mail.to!r}")
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id_for(key, domain) if key else make_msgid(domain=domain)
    for name, value in mail.headers.items():
        if name.lower() in _RESERVED:
            continue
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid header name")
        message[name] = value
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message
