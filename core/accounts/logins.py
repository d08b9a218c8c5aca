"""Logins: who may sign in, with which role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.accounts.passwords import hash_password, needs_rehash, verify_password
from core.accounts.roles import Viewer, check_role
from core.accounts.tables import Login
from core.errors import NotFound
from core.people.service import display_name, find_person, get_or_create_person
from core.people.tables import Person


async def ensure_login(email: str, role: str = "member", *, name: str = "") -> Login:
    """The login for this address, created (with its person) if needed. An existing login's
    role is raised to `role` but never lowered: demotion is an explicit act (`set_role`)."""
    from core.accounts.roles import role_at_least

    check_role(role)
    given, _, family = name.strip().partition(" ")
    person, _ = await get_or_create_person(email, given_name=given, family_name=family)
    login = await Login.objects().where(Login.person == person.id).first()
    if login is None:
        await Login.insert(Login(person=person.id, role=role)).on_conflict(
            target=Login.person, action="DO NOTHING"
        )
        login = await Login.objects().where(Login.person == person.id).first()
        assert login is not None
    elif not role_at_least(login.role, role):
        await Login.update({Login.role: role}).where(Login.id == login.id)
        login.role = role
    return login


async def login_for_email(email: str) -> Login | None:
    person = await find_person(email)
    if person is None:
        return None
    return await Login.objects().where(Login.person == person.id).first()


async def set_role(email: str, role: str) -> Login:
    check_role(role)
    login = await login_for_email(email)
    if login is None:
        raise NotFound(f"No login for {email}; create one first.")
    await Login.update({Login.role: role}).where(Login.id == login.id)
    login.role = role
    return login


async def set_password(login_id: int, password: str) -> None:
    await Login.update({Login.password_hash: hash_password(password)}).where(Login.id == login_id)


async def check_password(email: str, password: str) -> Login | None:
    """The login if the password matches; None otherwise (same answer for unknown emails)."""
    login = await login_for_email(email)
    if login is None or login.disabled or not verify_password(login.password_hash, password):
        return None
    if login.password_hash and needs_rehash(login.password_hash):
        await set_password(login.id, password)
    return login


async def viewer_for_login(login_id: int) -> Viewer | None:
    row = await (
        Login.select(
            Login.id,
            Login.role,
            Login.disabled,
            Login.person.id,
            Login.person.email,
            Login.person.given_name,
            Login.person.family_name,
        )
        .where(Login.id == login_id)
        .first()
    )
    if row is None or row["disabled"]:
        return None
    return viewer_from_row(row)


def viewer_columns(login: Any) -> list[Any]:
    """The columns `viewer_from_row` needs, reached through a foreign key to Login (such as
    `WebSession.login`), so a session or token and its viewer come back in one query."""
    return [
        login.id.as_alias("id"),
        login.role.as_alias("role"),
        login.disabled.as_alias("disabled"),
        login.person.id.as_alias("person.id"),
        login.person.email.as_alias("person.email"),
        login.person.given_name.as_alias("person.given_name"),
        login.person.family_name.as_alias("person.family_name"),
    ]


def viewer_from_row(row: dict) -> Viewer:
    person = Person(
        email=row["person.email"],
        given_name=row["person.given_name"],
        family_name=row["person.family_name"],
    )
    return Viewer(
        login_id=row["id"],
        person_id=row["person.id"],
        email=row["person.email"],
        name=display_name(person),
        role=row["role"],
    )


async def mark_logged_in(login_id: int) -> None:
    await Login.update({Login.last_login_at: datetime.now(UTC)}).where(Login.id == login_id)
