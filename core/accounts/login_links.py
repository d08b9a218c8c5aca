"""Passwordless sign-in links: single use, expiring, stored only as hashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.accounts.tables import Login, LoginLink
from core.accounts.tokens import hash_secret, new_secret
from core.errors import Gone, NotFound

DEFAULT_TTL = timedelta(hours=1)
ADMIN_TTL = timedelta(hours=24)


def safe_next_path(next_path: str) -> str:
    """Only local paths, so a crafted link cannot bounce someone to another site."""
    if not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path:
        return "/"
    return next_path[:500]


async def create_login_link(login: Login, *, next_path: str = "/", ttl: timedelta = DEFAULT_TTL) -> str:
    """Returns the secret token; the caller builds the URL `/login/<token>`."""
    token, token_hash = new_secret()
    await LoginLink.insert(
        LoginLink(
            login=login.id,
            token_hash=token_hash,
            next_path=safe_next_path(next_path),
            expires_at=datetime.now(UTC) + ttl,
        )
    )
    return token


async def peek_login_link(token: str) -> LoginLink:
    """The link if it can still be used; raises with a message saying what to do otherwise."""
    link = await LoginLink.objects().where(LoginLink.token_hash == hash_secret(token)).first()
    if link is None:
        raise NotFound(
            "This sign-in link is not valid. Check that you copied all of it, or ask for a new one."
        )
    if link.used_at is not None:
        raise Gone("This sign-in link has already been used. Each link works once: ask for a new one.")
    if link.expires_at <= datetime.now(UTC):
        raise Gone("This sign-in link has expired. Ask for a new one.")
    return link


async def consume_login_link(token: str) -> LoginLink:
    """Mark the link used, atomically: of two simultaneous uses exactly one succeeds."""
    link = await peek_login_link(token)
    now = datetime.now(UTC)
    claimed = await (
        LoginLink.update({LoginLink.used_at: now})
        .where((LoginLink.id == link.id) & LoginLink.used_at.is_null())
        .returning(LoginLink.id)
    )
    if not claimed:
        raise Gone("This sign-in link has already been used. Each link works once: ask for a new one.")
    login = await Login.objects().where(Login.id == link.login).first()
    if login is None or login.disabled:
        raise Gone("This account is disabled. Contact the instance's administrators.")
    return link
