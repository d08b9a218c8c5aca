"""Forms are protected against cross-site posts, and oversized requests are refused."""

from core.accounts.login_links import create_login_link
from core.accounts.logins import ensure_login


async def test_a_form_post_without_a_csrf_token_is_refused(client):
    login = await ensure_login("ada@example.org")
    token = await create_login_link(login)
    await client.get(f"/login/{token}")  # receives the CSRF cookie
    response = await client.post(f"/login/{token}", data={})
    assert response.status_code == 403
    assert "reload the page" in response.text
    # the refused post did not use the link up
    assert (await client.get(f"/login/{token}")).status_code == 200


async def test_a_forged_csrf_token_is_refused(client):
    login = await ensure_login("ada@example.org")
    token = await create_login_link(login)
    await client.get(f"/login/{token}")
    response = await client.post(f"/login/{token}", data={"_csrf_token": "forged" * 10})
    assert response.status_code == 403
    assert "Traceback" not in response.text


async def test_a_csrf_token_from_another_browser_is_refused(app, client):
    from tests.support.asgi import browser
    from tests.support.forms import csrf_token_in

    async with browser(app) as attacker:
        stolen = csrf_token_in((await attacker.get("/login")).text)
    await client.get("/login")
    response = await client.post("/login", data={"_csrf_token": stolen, "email": "a@example.org"})
    assert response.status_code == 403


async def test_a_body_over_the_limit_is_refused_with_413(client):
    from core.settings import current_settings

    too_big = "x" * (current_settings().max_body_bytes + 1)
    response = await client.post(
        "/login", content=too_big, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "larger than this server accepts" in response.text


async def test_a_json_client_gets_json_errors(client):
    response = await client.get("/nowhere", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["message"]


async def test_an_unknown_page_is_a_friendly_404(client):
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert "nothing at this address" in response.text
    assert "<html" in response.text


async def test_an_unexpected_error_shows_a_reference_not_a_traceback(client, monkeypatch):
    import core.web.pages.public as public

    def explode():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(public, "current_settings", explode)
    response = await client.get("/")
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert "logged as" in response.text


async def test_invalid_email_on_the_sign_in_form_is_a_400_with_a_message(client):
    from tests.support.forms import submit

    response = await submit(client, "/login", "/login", {"email": "not an email"})
    assert response.status_code == 400
    assert "not a valid email address" in response.text


async def test_responses_carry_security_headers(client):
    response = await client.get("/")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
