"""Finding and creating members by their normalized email."""

from __future__ import annotations

from typing import Any

from core.errors import UserError
from core.people.emails import InvalidEmail, clean_email, email_key
from core.people.tables import Person
from core.plugins.events import emit


async def find_person(email: str) -> Person | None:
    try:
        key = email_key(email)
    except InvalidEmail:
        return None
    return await Person.objects().where(Person.email_key == key).first()


async def get_or_create_person(email: str, **fields: Any) -> tuple[Person, bool]:
    """The member with this address, created if new. Existing members are not overwritten."""
    try:
        address = clean_email(email)
    except InvalidEmail as exc:
        raise UserError(str(exc)) from None
    key = email_key(address)
    person = await Person.objects().where(Person.email_key == key).first()
    if person is not None:
        return person, False
    from core.outbox import transaction

    async with transaction():
        inserted = await (
            Person.insert(Person(email=address, email_key=key, **fields))
            .on_conflict(target=Person.email_key, action="DO NOTHING")
            .returning(Person.id)
        )
        if inserted:
            source = str(fields.get("source") or "")
            await emit(
                "person.created", str(inserted[0]["id"]), {"person_id": inserted[0]["id"], "source": source}
            )
    person = await Person.objects().where(Person.email_key == key).first()
    assert person is not None
    return person, bool(inserted)


def display_name(person: Person) -> str:
    name = f"{person.given_name} {person.family_name}".strip()
    return name or person.email
