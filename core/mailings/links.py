"""The links every campaign email carries, each a signed token so it works without a session
and cannot be forged: unsubscribe (also the RFC 8058 one-click target), preferences, tracked
clicks and, where the instance allows it, the open pixel.

These URL shapes are part of what members keep in old emails: change them only compatibly.
"""

from __future__ import annotations

from email.utils import parseaddr

from core import signed_tokens
from core.settings import current_settings

UNSUBSCRIBE = "mail-unsubscribe"
PREFERENCES = "mail-preferences"
CLICK = "mail-click"
OPEN = "mail-open"


def _public(path: str) -> str:
    return current_settings().public_url.rstrip("/") + path


def unsubscribe_token(person_id: int, mailing_id: int | None = None) -> str:
    """Carries the person and, when sent in a mailing, which one (to count unsubscribes)."""
    return signed_tokens.sign(UNSUBSCRIBE, f"{person_id}:{mailing_id or ''}")


def read_unsubscribe_token(token: str) -> tuple[int, int | None] | None:
    value = signed_tokens.verify(UNSUBSCRIBE, token)
    if value is None:
        return None
    person, _, mailing = value.partition(":")
    if not person.isdigit() or (mailing and not mailing.isdigit()):
        return None
    return int(person), int(mailing) if mailing else None


def unsubscribe_url(person_id: int, mailing_id: int | None = None) -> str:
    return _public(f"/mail/unsubscribe/{unsubscribe_token(person_id, mailing_id)}")


def unsubscribe_mailto(person_id: int, mailing_id: int | None = None) -> str:
    """The mailto form of List-Unsubscribe: a message to our sender address whose subject
    carries the token. Such messages reach us through the bounce webhook or
    `groundswell mail bounces`, which treat them as unsubscribes."""
    address = parseaddr(current_settings().mail_from)[1]
    return f"mailto:{address}?subject=unsubscribe%20{unsubscribe_token(person_id, mailing_id)}"


def preferences_token(person_id: int) -> str:
    return signed_tokens.sign(PREFERENCES, str(person_id))


def read_preferences_token(token: str) -> int | None:
    value = signed_tokens.verify(PREFERENCES, token)
    return int(value) if value is not None and value.isdigit() else None


def preferences_url(person_id: int) -> str:
    return _public(f"/mail/preferences/{preferences_token(person_id)}")


def click_url(delivery_id: int, url: str) -> str:
    """A redirect through us that counts the click, then sends the member on to `url`. The
    destination is inside the signature, so this is never an open redirect."""
    return _public(f"/mail/c/{signed_tokens.sign(CLICK, f'{delivery_id}|{url}')}")


def read_click_token(token: str) -> tuple[int, str] | None:
    value = signed_tokens.verify(CLICK, token)
    if value is None:
        return None
    delivery, _, url = value.partition("|")
    if not delivery.isdigit() or not url.startswith(("https://", "http://")):
        return None
    return int(delivery), url


def open_pixel_url(delivery_id: int) -> str:
    return _public(f"/mail/o/{signed_tokens.sign(OPEN, str(delivery_id))}.gif")


def read_open_token(token: str) -> int | None:
    value = signed_tokens.verify(OPEN, token)
    return int(value) if value is not None and value.isdigit() else None
