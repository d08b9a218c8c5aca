"""Email address normalization, so one person is one row however they type their address."""

from __future__ import annotations

import re

# Providers where dots in the local part are ignored and +tags are delivered to the same box.
_DOT_INSENSITIVE = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
_PLUS_TAGGING = {
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "fastmail.com",
    "proton.me",
    "protonmail.com",
    "icloud.com",
}

_ADDRESS = re.compile(
    r"^[^@\s<>()\[\],;:\"]{1,64}"  # local part: no spaces or specials
    r"@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.[A-Za-z]{2,63}$"  # domain with a TLD
)


class InvalidEmail(ValueError):
    """The text is not a usable email address."""


def clean_email(raw: str) -> str:
    """The address as the person typed it, trimmed, with the domain lower-cased; or InvalidEmail."""
    text = (raw or "").strip()
    if not text:
        raise InvalidEmail("Enter an email address.")
    if len(text) > 254 or not _ADDRESS.match(text) or ".." in text:
        raise InvalidEmail(f"{text[:80]!r} is not a valid email address.")
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def email_key(raw: str) -> str:
    """The dedupe key: case-folded, per-provider dots and +tags removed."""
    local, domain = clean_email(raw).lower().rsplit("@", 1)
    if domain in _PLUS_TAGGING and "+" in local:
        local = local.split("+", 1)[0]
    if domain in _DOT_INSENSITIVE:
        local = local.replace(".", "")
        domain = _DOT_INSENSITIVE[domain]
    return f"{local}@{domain}"
