"""Reading what mail servers send back: delivery status notifications (RFC 3464), abuse
feedback reports (ARF, RFC 5965) and mailto unsubscribe requests (RFC 2369), from an mbox
file, a single .eml file, a Maildir or a directory of .eml files. Pure parsing: nothing here touches the
database, so every shape of message can be tested on its own.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import Literal

from core.errors import UserError

Kind = Literal["hard", "soft", "complaint", "unsubscribe"]

DETAIL_MAX = 500
# ARF feedback types that mean "this recipient did not want this mail".
_COMPLAINT_TYPES = {"abuse", "fraud", "other", "virus"}
_TOKEN = r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"  # noqa: S105 - a pattern, not a secret
_UNSUBSCRIBE_SUBJECT = re.compile(rf"\bunsubscribe\s+({_TOKEN})", re.IGNORECASE)
_UNSUBSCRIBE_URL = re.compile(rf"/mail/unsubscribe/({_TOKEN})")
_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
_parser = BytesParser(policy=policy.default)


@dataclass(frozen=True)
class Finding:
    """One thing a message tells us. `email` may be missing from a complaint whose reporter
    hid the recipient; then `token` (the signed List-Unsubscribe token of the original
    message) or `delivery_id` (its X-Groundswell-Delivery header) says who it was."""

    kind: Kind
    email: str | None
    detail: str = ""
    message_id: str | None = None
    delivery_id: int | None = None
    token: str | None = None


# -- files ---------------------------------------------------------------------------------------


def _looks_binary(head: bytes) -> bool:
    return b"\x00" in head


def _is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def messages_in(path: Path) -> Iterator[EmailMessage]:
    """Every message in an mbox file, a single message file, a Maildir, or a directory of
    .eml files."""
    if _is_maildir(path):
        maildir = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(maildir.iterkeys()):
            yield _parser.parsebytes(maildir.get_bytes(key))  # type: ignore[misc]
        return
    if path.is_dir():
        for file in sorted(path.glob("*.eml")):
            yield _parser.parsebytes(file.read_bytes())  # type: ignore[misc]
        return
    with path.open("rb") as handle:
        head = handle.read(5)
    if head.startswith(b"From "):
        box = mailbox.mbox(path, create=False)
        try:
            for key in box.iterkeys():
                yield _parser.parsebytes(box.get_bytes(key))  # type: ignore[misc]
        finally:
            box.close()
        return
    yield _parser.parsebytes(path.read_bytes())  # type: ignore[misc]


def check_readable(path: Path) -> None:
    """UserError with one line if `path` cannot be read as mail (before anything is applied)."""
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if path.is_dir():
        if not _is_maildir(path) and not any(path.glob("*.eml")):
            raise UserError(f"{path} is a directory without .eml files (nor a Maildir)")
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head.strip():
        raise UserError(f"{path} is empty")
    if _looks_binary(head):
        raise UserError(f"{path.name} is not an email or mbox file: it contains binary data")
    if head.startswith(b"From "):
        return
    headers = HeaderParser(policy=policy.default).parsestr(head.decode("utf-8", "replace"))
    if not any(name.lower() in ("from", "to", "subject", "received", "content-type") for name in headers):
        raise UserError(f"{path.name} is not an email or mbox file: it has no mail headers")


# -- one message ---------------------------------------------------------------------------------


def _blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [block for block in payload if isinstance(block, Message)]
        if len(blocks) == 1 and isinstance(blocks[0].get_payload(), str):
            # message/global-delivery-status is parsed as one message: its body holds the rest.
            return [blocks[0], *_text_blocks(blocks[0].get_payload())]
        return blocks
    if isinstance(payload, str):
        return _text_blocks(payload)
    return []


def _text_blocks(text: str) -> list[Message]:
    return [HeaderParser().parsestr(chunk) for chunk in re.split(r"\r?\n\s*\r?\n", text) if chunk.strip()]


def _address(field: str | None) -> str | None:
    """ "rfc822; ada@example.org" (DSN and ARF address fields) or a plain address."""
    if not field:
        return None
    value = str(field).rsplit(";", 1)[-1].strip().strip("<>").strip()
    return value if "@" in value else None


def _original_headers(message: Message) -> Message | None:
    """The headers of the message we sent, as returned inside a report."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        if content_type in ("text/rfc822-headers", "text/rfc822-header"):
            return HeaderParser().parsestr(part.get_payload(decode=True).decode("utf-8", "replace"))
    return None


def _trail(original: Message | None) -> tuple[str | None, int | None, str | None]:
    """Message-ID, X-Groundswell-Delivery and unsubscribe token of the original message."""
    if original is None:
        return None, None, None
    message_id = str(original.get("Message-ID") or "").strip() or None
    delivery_header = str(original.get("X-Groundswell-Delivery") or "").strip()
    delivery_id = int(delivery_header) if delivery_header.isdigit() else None
    match = _UNSUBSCRIBE_URL.search(str(original.get("List-Unsubscribe") or ""))
    return message_id, delivery_id, match.group(1) if match else None


def _clip(text: str) -> str:
    return " ".join(text.split())[:DETAIL_MAX]


def _delivery_status(message: Message, part: Message) -> list[Finding]:
    message_id, delivery_id, _ = _trail(_original_headers(message))
    findings = []
    for block in _blocks(part)[1:]:  # the first block is about the message, the rest per recipient
        action = str(block.get("Action") or "").strip().lower()
        status = str(block.get("Status") or "").strip()
        diagnostic = str(block.get("Diagnostic-Code") or "").strip()
        email = _address(block.get("Original-Recipient")) or _address(block.get("Final-Recipient"))
        if action not in ("failed", "delayed") or email is None:
            continue  # delivered, relayed, expanded: nothing went wrong
        code = _STATUS.search(status) or _STATUS.search(diagnostic)
        hard = action == "failed" and (code is None or code.group(1) == "5")
        detail = _clip(f"{status} {diagnostic}".strip() or action)
        findings.append(
            Finding("hard" if hard else "soft", email, detail, message_id=message_id, delivery_id=delivery_id)
        )
    return findings


def _feedback(message: Message, part: Message) -> list[Finding]:
    blocks = _blocks(part)
    fields = blocks[0] if blocks else Message()
    feedback_type = str(fields.get("Feedback-Type") or "").strip().lower()
    if feedback_type not in _COMPLAINT_TYPES:
        return []
    original = _original_headers(message)
    message_id, delivery_id, token = _trail(original)
    email = _address(fields.get("Original-Rcpt-To"))
    if email is None and original is not None:
        addresses = [a for _, a in getaddresses([str(v) for v in original.get_all("To") or []]) if "@" in a]
        email = addresses[0] if len(addresses) == 1 else None
    reporter = str(fields.get("User-Agent") or fields.get("Reported-Domain") or "").strip()
    detail = _clip(f"{feedback_type} report" + (f" from {reporter}" if reporter else ""))
    if email is None and token is None and delivery_id is None:
        return []
    return [Finding("complaint", email, detail, message_id=message_id, delivery_id=delivery_id, token=token)]


def _unsubscribe_request(message: EmailMessage) -> list[Finding]:
    match = _UNSUBSCRIBE_SUBJECT.search(str(message.get("Subject") or ""))
    if match is None:
        body = message.get_body(preferencelist=("plain",))
        if body is not None:
            try:
                text = body.get_content()
            except (LookupError, ValueError):
                text = ""
            match = _UNSUBSCRIBE_SUBJECT.search(text[:5000])
    if match is None:
        return []
    sender = [a for _, a in getaddresses([str(message.get("From") or "")]) if "@" in a]
    return [Finding("unsubscribe", sender[0] if sender else None, "mailto", token=match.group(1))]


def read_message(message: EmailMessage) -> list[Finding]:
    """What one message reports; an empty list when it is none of the kinds we understand
    (an out-of-office reply, a success notice, a person writing to the bounce address)."""
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type") or "").lower()
        for part in message.walk():
            content_type = part.get_content_type()
            if report_type == "delivery-status" and content_type in (
                "message/delivery-status",
                "message/global-delivery-status",
            ):
                return _delivery_status(message, part)
            if report_type == "feedback-report" and content_type == "message/feedback-report":
                return _feedback(message, part)
        return []
    return _unsubscribe_request(message)
