"""Signing in with one-time links and passwords, and signing out."""

from datetime import timedelta

from core.accounts.login_links import create_login_link
from core.accounts.logins import ensure_login, set_password
from core.accounts.sessions import COOKIE_NAME
from tests.support.forms import csrf_token_in, submit


async def test_a_login_link_signs_in_once(client):
    login = await ensure_login("ada@example.org", "admin", name="Ada Lovelace")
    token = await create_login_link(login, next_path="/admin/")

    page = await client.get(f"/login/{token}")
    assert page.status_code == 200
    assert "Continue" in page.text  # a GET alone does not use the link up

    used = await client.post(
        f"/login/{token}", data={"_csrf_token": csrf_token_in(page.text)}, follow_redirects=False
    )
    assert used.status_code == 303
    assert used.headers["location"] == "/admin/"
    assert COOKIE_NAME in used.cookies

    admin = await client.get("/admin/")
    assert admin.status_code == 200
    assert "ada@example.org" not in admin.text or "Admin" in admin.text


async def test_a_login_link_used_twice_is_refused_with_advice(client):
    login = await ensure_login("bob@example.org")
    token = await create_login_link(login)
    first = await submit(client, f"/login/{token}", f"/login/{token}", follow_redirects=False)
    assert first.status_code == 303

    again = await client.get(f"/login/{token}")
    assert again.status_code == 410
    assert "already been used" in again.text
    assert "Traceback" not in again.text


async def test_an_expired_login_link_is_refused(client):
    login = await ensure_login("carol@example.org")
    token = await create_login_link(login, ttl=timedelta(seconds=-1))
    response = await client.get(f"/login/{token}")
    assert response.status_code == 410
    assert "expired" in response.text


async def test_an_unknown_login_link_is_not_found(client):
    response = await client.get("/login/not-a-real-token")
    assert response.status_code == 404
    assert "not valid" in response.text


async def test_password_sign_in(client):
    login = await ensure_login("dana@example.org")
    await set_password(login.id, "correct horse battery")
    wrong = await submit(
        client, "/login", "/login", {"email": "dana@example.org", "password": "wrong password!"}
    )
    assert wrong.status_code == 401
    right = await submit(
        client,
        "/login",
        "/login",
        {"email": "Dana@Example.org", "password": "correct horse battery", "next": "/account/"},
        follow_redirects=False,
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/account/"
    assert (await client.get("/account/")).status_code == 200


async def test_sign_out_ends_the_session(client):
    from tests.support.accounts import sign_in

    await sign_in(client, "erin@example.org")
    assert (await client.get("/account/")).status_code == 200
    out = await submit(client, "/account/", "/logout", follow_redirects=False)
    assert out.status_code == 303
    assert (await client.get("/account/", follow_redirects=False)).status_code == 303


async def test_expired_sessions_and_spent_links_are_purged_hourly(client):
    from datetime import UTC, datetime

    from core.accounts.cleanup import purge_accounts
    from core.accounts.sessions import start_session
    from core.accounts.tables import LoginLink, WebSession

    login = await ensure_login("old@example.org")
    await create_login_link(login, ttl=timedelta(days=-2))
    fresh = await create_login_link(login)
    await start_session(login.id)
    await WebSession.update({WebSession.expires_at: datetime.now(UTC) - timedelta(days=1)}, force=True)
    await purge_accounts(None)
    assert await WebSession.count() == 0
    assert await LoginLink.count() == 1
    assert (await client.get(f"/login/{fresh}")).status_code == 200
