"""Who may open what: the role × route matrix, checked in one place per route group."""

import pytest

from tests.support.accounts import sign_in

# One representative page per route group, and the least role it needs.
ROUTES = {
    "/": None,
    "/login": None,
    "/account/": "member",
    "/lead/": "leader",
    "/staff/people": "staff",
    "/staff/moderation": "staff",
    "/admin/": "admin",
    "/admin/mail": "admin",
    "/admin/logins": "admin",
    "/admin/groups/": "admin",
    "/admin/policies": "admin",
}
ROLES = ["anonymous", "member", "leader", "staff", "admin"]
RANK = {role: rank for rank, role in enumerate(ROLES)}


def expected(role: str, needed: str | None) -> int:
    if needed is None:
        return 200
    if role == "anonymous":
        return 303  # to the sign-in page
    return 200 if RANK[role] >= RANK[needed] else 403


@pytest.mark.parametrize("role", ROLES)
async def test_role_route_matrix(client, role):
    if role != "anonymous":
        await sign_in(client, f"{role}@example.org", role)
    outcomes = {}
    for path, needed in ROUTES.items():
        response = await client.get(path, follow_redirects=False)
        outcomes[path] = (response.status_code, expected(role, needed))
    wrong = {path: got for path, got in outcomes.items() if got[0] != got[1]}
    assert not wrong, f"(got, expected) for {role}: {wrong}"


async def test_anonymous_visitors_are_sent_to_sign_in_and_back(client):
    response = await client.get("/admin/logins?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin%2Flogins%3Fx%3D1"


async def test_a_forbidden_page_says_which_role_it_needs(client):
    await sign_in(client, "member@example.org", "member")
    response = await client.get("/admin/")
    assert response.status_code == 403
    assert "admin account" in response.text
    assert "Traceback" not in response.text


async def test_a_disabled_login_loses_its_session(client):
    from core.accounts.tables import Login

    await sign_in(client, "staff@example.org", "staff")
    assert (await client.get("/staff/people")).status_code == 200
    await Login.update({Login.disabled: True}, force=True)
    assert (await client.get("/staff/people", follow_redirects=False)).status_code == 303


async def test_admins_grant_roles(client):
    from core.accounts.logins import login_for_email
    from tests.support.forms import submit

    await sign_in(client, "admin@example.org", "admin")
    response = await submit(
        client,
        "/admin/logins",
        "/admin/logins",
        {"email": "Lead@Example.org", "role": "leader", "name": "Lee Der"},
    )
    assert response.status_code == 200
    assert "lead@example.org" in response.text.lower()
    login = await login_for_email("lead@example.org")
    assert login is not None and login.role == "leader"


async def test_granting_an_unknown_role_is_a_clear_error(client):
    from tests.support.forms import submit

    await sign_in(client, "admin@example.org", "admin")
    response = await submit(
        client, "/admin/logins", "/admin/logins", {"email": "x@example.org", "role": "emperor"}
    )
    assert response.status_code == 400
    assert "Unknown role" in response.text
