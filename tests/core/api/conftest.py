"""API test helpers: tokens for each role, sent the way OSDI clients send them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from core.accounts.api_tokens import create_api_token
from core.accounts.logins import ensure_login

TOKEN_HEADER = "OSDI-API-Token"


@pytest.fixture
def token() -> Callable[..., Awaitable[dict[str, str]]]:
    """`await token("staff")` → headers carrying a fresh token of a login with that role."""

    async def make(role: str = "member", email: str | None = None) -> dict[str, str]:
        login = await ensure_login(email or f"{role}@example.org", role)
        issued = await create_api_token(login.id, f"{role} test token")
        return {TOKEN_HEADER: issued.secret}

    return make
