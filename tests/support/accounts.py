"""Signing test clients in as a given role."""

from __future__ import annotations

from typing import Any

from core.accounts.login_links import create_login_link
from core.accounts.logins import ensure_login, set_role
from tests.support.forms import submit


async def sign_in(client: Any, email: str, role: str = "member") -> None:
    await ensure_login(email, role)
    login = await set_role(email, role)
    token = await create_login_link(login)
    response = await submit(client, f"/login/{token}", f"/login/{token}", follow_redirects=False)
    assert response.status_code == 303, response.text
