"""Short signed tokens for links that must work without a session: unsubscribe, preferences,
click tracking. A token says "this instance issued this value for this purpose"; nothing is
stored, so a mailing to a million members adds no rows.

The purpose is part of the MAC, so a click token can never be replayed as an unsubscribe token.
Tokens do not expire by default: an unsubscribe link in a two-year-old email must still work
(RFC 8058 expects it to).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from core.settings import current_settings

_MAC_BYTES = 16  # 128 bits: unforgeable, and short enough for a URL in a plain-text email


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(purpose: str, value: str, secret: str) -> bytes:
    key = hashlib.sha256(("groundswell-token:" + secret).encode()).digest()
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def sign(purpose: str, value: str, *, ttl_seconds: int | None = None, secret: str | None = None) -> str:
    """A URL-safe token carrying `value` (any text) for `purpose`, optionally expiring."""
    secret = secret or current_settings().secret_key
    expires = "" if ttl_seconds is None else str(int(time.time()) + ttl_seconds)
    body = f"{expires}~{value}"
    return _b64(body.encode("utf-8")) + "." + _b64(_mac(purpose, body, secret))


def verify(purpose: str, token: str, *, secret: str | None = None) -> str | None:
    """The value inside `token`, or None if it is malformed, forged, for another purpose, or
    expired. Never raises: every caller answers a bad token with a page, not a 500."""
    secret = secret or current_settings().secret_key
    try:
        encoded_body, encoded_mac = token.split(".", 1)
        body = _unb64(encoded_body).decode("utf-8")
        mac = _unb64(encoded_mac)
        expires, value = body.split("~", 1)
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(mac, _mac(purpose, body, secret)):
        return None
    if expires and (not expires.isdigit() or int(expires) < time.time()):
        return None
    return value
