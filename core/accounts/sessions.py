"""Server-side sessions: the cookie carries a random token, the database its hash, so
signing out (or an admin disabling a login) takes effect everywhere at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.accounts.logins import mark_logged_in, viewer_columns, viewer_from_row
from core.accounts.roles import Viewer
from core.accounts.tables import WebSession
from core.accounts.tokens import hash_secret, new_secret

SESSION_TTL = timedelta(days=14)
COOKIE_NAME = "gs_session"
# Refresh last_seen_at (and slide the expiry) at most this often, to spare writes.
_TOUCH_EVERY = timedelta(minutes=10)


async def start_session(login_id: int) -> str:
    token, token_hash = new_secret()
    await WebSession.insert(
        WebSession(login=login_id, token_hash=token_hash, expires_at=datetime.now(UTC) + SESSION_TTL)
    )
    await mark_logged_in(login_id)
    return token


async def viewer_for_session(token: str) -> Viewer | None:
    if not token or len(token) > 200:
        return None
    row = await (
        WebSession.select(
            WebSession.id,
            WebSession.expires_at,
            WebSession.last_seen_at,
            *viewer_columns(WebSession.login),
        )
        .where(WebSession.token_hash == hash_secret(token))
        .first()
    )
    now = datetime.now(UTC)
    if row is None or row["expires_at"] <= now or row["disabled"]:
        return None
    if now - row["last_seen_at"] > _TOUCH_EVERY:
        await WebSession.update(
            {WebSession.last_seen_at: now, WebSession.expires_at: now + SESSION_TTL}
        ).where(WebSession.token_hash == hash_secret(token))
    return viewer_from_row(row)


async def end_session(token: str) -> None:
    await WebSession.delete().where(WebSession.token_hash == hash_secret(token))


async def purge_expired_sessions() -> int:
    rows = await WebSession.delete().where(WebSession.expires_at < datetime.now(UTC)).returning(WebSession.id)
    return len(rows)
