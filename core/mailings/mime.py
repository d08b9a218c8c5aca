"""Campaign messages as MIME, built for speed.

Transactional mail uses core.mail.message (EmailMessage and the modern email policy), which
costs about 3 ms a message to build and serialise — more than SMTP itself on a local relay.
A campaign sends the same shape a hundred thousand times, so here the multipart body (plain
text then HTML, both UTF-8 in base64) is written directly and carried as the payload of a
compat32 Message; the email package then only writes the headers. Both mail backends accept
it: SMTP sends it as is, the file backend serialises it with the SMTP policy. Headers that are
not ASCII are RFC 2047-encoded.
"""

from __future__ import annotations

import base64
import secrets
from email.header import Header
from email.message import Message
from email.policy import Compat32
from email.utils import formataddr, formatdate

from core.mailings.composing import RenderedMail

CRLF = "\r\n"


class _WirePolicy(Compat32):
    """compat32 runs every header through email.header.Header to fold it, a third of the cost
    of writing a message. Ours are ASCII already (see _header) and single-line; the one long
    kind (List-Unsubscribe) folds after its commas."""

    def fold(self, name: str, value: str) -> str:  # type: ignore[override]
        value = value.replace("\r\n", "\n").replace("\n", "\r\n")  # encoded-words may be folded
        if len(name) + len(value) + 2 > 78 and ", " in value:
            value = ",\r\n ".join(value.split(", "))
        return f"{name}: {value}\r\n"

    def fold_binary(self, name: str, value: str) -> bytes:  # type: ignore[override]
        return self.fold(name, value).encode("ascii")


WIRE = _WirePolicy(linesep="\r\n")


def _header(value: str) -> str:
    """ASCII as is; anything else as RFC 2047 encoded-words."""
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _part(content_type: str, text: str) -> str:
    encoded = base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", CRLF)
    return (
        f'Content-Type: {content_type}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}"
        f"{encoded}"
    )


def campaign_message(
    rendered: RenderedMail, *, to_name: str, to_address: str, sender: str, message_id: str
) -> Message:
    """Raises ValueError for an address no server would take (a line break, no domain)."""
    if "@" not in to_address or any(c in to_address for c in "\r\n<>"):
        raise ValueError(f"{to_address!r} is not an email address")
    # Base64 and these headers never contain the boundary's "=_gs" prefix.
    boundary = f"=_gs{secrets.token_hex(12)}"
    message = Message(policy=WIRE)
    message["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
    message["MIME-Version"] = "1.0"
    message["From"] = sender
    message["To"] = formataddr((to_name, to_address))
    message["Subject"] = _header(rendered.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    for name, value in rendered.headers.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"a line break in the {name} header")
        message[name] = _header(value)
    # The generator writes a str payload as is, so it carries the wire's line endings.
    message.set_payload(
        f"--{boundary}{CRLF}{_part('text/plain', rendered.text)}"
        f"--{boundary}{CRLF}{_part('text/html', rendered.html)}"
        f"--{boundary}--{CRLF}"
    )
    return message
