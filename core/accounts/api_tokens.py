"""API tokens for the OSDI API: shown once, stored hashed, revocable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from core.accounts.logins import login_for_email, viewer_columns, viewer_from_row
from core.accounts.roles import Viewer
from core.accounts.tables import ApiToken
from core.accounts.tokens import hash_secret, new_secret
from core.errors import NotFound

TOKEN_PREFIX = "gs_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class IssuedToken:
    id: int
    prefix: str
    secret: str


async def create_api_token(login_id: int, name: str = "") -> IssuedToken:
    secret, token_hash = new_secret(TOKEN_PREFIX)
    prefix = secret[: len(TOKEN_PREFIX) + 6]
    rows = await ApiToken.insert(
        ApiToken(login=login_id, name=name.strip()[:100], prefix=prefix, token_hash=token_hash)
    ).returning(ApiToken.id)
    return IssuedToken(id=rows[0]["id"], prefix=prefix, secret=secret)


async def create_api_token_for_email(email: str, name: str = "") -> IssuedToken:
    login = await login_for_email(email)
    if login is None:
        raise NotFound(f"No login for {email}; create one first (groundswell admin create).")
    return await create_api_token(login.id, name)


async def viewer_for_api_token(secret: str) -> Viewer | None:
    if not secret or len(secret) > 200:
        return None
    row = await (
        ApiToken.select(
            ApiToken.id.as_alias("token_id"),
            ApiToken.revoked_at,
            ApiToken.last_used_at,
            *viewer_columns(ApiToken.login),
        )
        .where(ApiToken.token_hash == hash_secret(secret))
        .first()
    )
    if row is None or row["revoked_at"] is not None or row["disabled"]:
        return None
    now = datetime.now(UTC)
    last = row["last_used_at"]
    if last is None or (now - last).total_seconds() > 300:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["token_id"])
    return viewer_from_row(row)


async def list_api_tokens(login_id: int) -> list[dict]:
    return await (
        ApiToken.select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.prefix,
            ApiToken.created_at,
            ApiToken.last_used_at,
            ApiToken.revoked_at,
        )
        .where(ApiToken.login == login_id)
        .order_by(ApiToken.id, ascending=False)
    )


async def revoke_api_token(token_id: int, *, login_id: int | None = None) -> None:
    """Revoke a token; with `login_id`, only if it belongs to that login."""
    query = ApiToken.update({ApiToken.revoked_at: datetime.now(UTC)}).where(
        (ApiToken.id == token_id) & ApiToken.revoked_at.is_null()
    )
    if login_id is not None:
        query = query.where(ApiToken.login == login_id)
    rows = await query.returning(ApiToken.id)
    if not rows:
        raise NotFound("No such active token.")


async def revoke_api_token_by_prefix(prefix: str) -> int:
    rows = await (
        ApiToken.update({ApiToken.revoked_at: datetime.now(UTC)})
        .where((ApiToken.prefix == prefix) & ApiToken.revoked_at.is_null())
        .returning(ApiToken.id)
    )
    if not rows:
        raise NotFound(f"No active token starts with {prefix!r}.")
    return len(rows)
