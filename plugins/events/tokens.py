"""Signed links for attendees: manage (cancel) an RSVP, or stop this event's emails, without
signing in. The token names the attendance and the purpose and is MACed with the instance's
secret key, so it cannot be guessed or turned to another purpose; nothing is stored. Like an
unsubscribe link, it does not expire: a reminder read late must still let someone cancel.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from core.plugin_api import instance_settings

_MAC_BYTES = 16


def _mac(purpose: str, value: str) -> bytes:
    key = hashlib.sha256(("groundswell-events:" + instance_settings().secret_key).encode()).digest()
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def attendance_token(attendance_id: int, purpose: str = "manage") -> str:
    return f"{attendance_id}.{_b64(_mac(purpose, str(attendance_id)))}"


def attendance_from_token(token: str, purpose: str = "manage") -> int | None:
    """The attendance id inside a valid token, else None (never raises)."""
    value, _, mac = token.partition(".")
    if not value.isdigit() or len(value) > 10 or not mac:
        return None
    if not hmac.compare_digest(mac, _b64(_mac(purpose, value))):
        return None
    return int(value)
