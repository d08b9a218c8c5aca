"""API tokens: shown once, stored hashed, checked on every API call, revocable."""

from core.accounts.api_tokens import create_api_token, revoke_api_token
from core.accounts.logins import ensure_login
from core.accounts.tables import ApiToken
from tests.support.accounts import sign_in
from tests.support.forms import csrf_token_in, submit

TOKEN_HEADER = "OSDI-API-Token"


async def test_the_api_entry_point_needs_a_token(client):
    response = await client.get("/api/v1/")
    assert response.status_code == 401
    assert "OSDI-API-Token" in response.json()["message"]


async def test_a_valid_token_opens_the_api(client):
    login = await ensure_login("dev@example.org")
    issued = await create_api_token(login.id, "script")
    response = await client.get("/api/v1/", headers={TOKEN_HEADER: issued.secret})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hal+json")
    assert response.json()["_links"]["self"]["href"] == "http://testserver.local/api/v1/"


async def test_a_wrong_token_is_401_with_advice(client):
    response = await client.get("/api/v1/", headers={TOKEN_HEADER: "gs_not-a-token"})
    assert response.status_code == 401
    assert "not valid or has been revoked" in response.json()["message"]


async def test_a_revoked_token_stops_working(client):
    login = await ensure_login("dev@example.org")
    issued = await create_api_token(login.id)
    assert (await client.get("/api/v1/", headers={TOKEN_HEADER: issued.secret})).status_code == 200
    await revoke_api_token(issued.id)
    assert (await client.get("/api/v1/", headers={TOKEN_HEADER: issued.secret})).status_code == 401


async def test_tokens_are_stored_only_as_hashes(client):
    login = await ensure_login("dev@example.org")
    issued = await create_api_token(login.id)
    stored = await ApiToken.select().first()
    assert issued.secret not in str(stored)


async def test_a_session_cookie_does_not_open_the_api(client):
    """The API is for programs with tokens; a browser session must not be enough, or any site
    could make a signed-in member's browser call it (the API is exempt from CSRF checks)."""
    await sign_in(client, "admin@example.org", "admin")
    assert (await client.get("/api/v1/")).status_code == 401


async def test_members_create_and_revoke_their_tokens_on_the_account_page(client):
    await sign_in(client, "dev@example.org", "member")
    created = await submit(client, "/account/", "/account/tokens", {"name": "my script"})
    assert created.status_code == 200
    assert "shown again" in created.text
    secret = created.text.split('<code class="secret">')[1].split("</code>")[0]
    assert (await client.get("/api/v1/", headers={TOKEN_HEADER: secret})).status_code == 200

    token_id = (await ApiToken.select(ApiToken.id).first())["id"]
    page = await client.get("/account/")
    revoked = await client.post(
        f"/account/tokens/{token_id}/revoke", data={"_csrf_token": csrf_token_in(page.text)}
    )
    assert revoked.status_code == 200
    assert "revoked" in revoked.text
    assert (await client.get("/api/v1/", headers={TOKEN_HEADER: secret})).status_code == 401


async def test_nobody_revokes_someone_elses_token(client):
    other = await ensure_login("other@example.org")
    theirs = await create_api_token(other.id)
    await sign_in(client, "dev@example.org", "member")
    page = await client.get("/account/")
    response = await client.post(
        f"/account/tokens/{theirs.id}/revoke", data={"_csrf_token": csrf_token_in(page.text)}
    )
    assert response.status_code == 404
    assert (await client.get("/api/v1/", headers={TOKEN_HEADER: theirs.secret})).status_code == 200
