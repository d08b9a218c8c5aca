"""Expired sessions and spent sign-in links are deleted hourly, so the tables that every
request and every sign-in reads do not grow without end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.accounts.sessions import purge_expired_sessions
from core.accounts.tables import LoginLink
from core.outbox import OutboxWork
from core.outbox.periodic import periodic

# Spent or expired links are kept a day, so "already used" stays the answer for a while.
KEEP_LINKS = timedelta(days=1)


async def purge_spent_login_links() -> None:
    await LoginLink.delete().where(LoginLink.expires_at < datetime.now(UTC) - KEEP_LINKS)


@periodic("accounts.purge", every_seconds=3600)
async def purge_accounts(_: OutboxWork) -> None:
    await purge_expired_sessions()
    await purge_spent_login_links()
