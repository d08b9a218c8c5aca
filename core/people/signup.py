"""Signing people up (the OSDI person signup helper, and the extra details a signature can
bring): create the member if new, or update them, in one transaction.

Consents only ever widen here: `True` grants, `False` changes nothing (withdrawing consent is
the member's own act, through preferences or an unsubscribe link). Unauthenticated callers
(`overwrite=False`) can only fill in what is empty, so knowing someone's email address is not
enough to rewrite their record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime

from core.errors import UserError
from core.outbox import transaction
from core.people.emails import InvalidEmail, clean_email, email_key
from core.people.tables import Person
from core.people.tags import attach_tags, tag_ids_named
from core.plugins.events import emit

TEXT_LIMITS = {
    "given_name": ("Given names", 200),
    "family_name": ("Family names", 200),
    "postal_code": ("Postal codes", 20),
    "locality": ("Localities (cities)", 100),
    "region": ("Regions", 100),
    "phone": ("Phone numbers", 40),
    "source": ("Sources", 100),
}
CONSENTS = ("consent_instance_email", "consent_national", "consent_share_with_creators")
_PHONE_CHARACTERS = set("0123456789+-(). ")


@dataclass(frozen=True)
class PersonInput:
    email: str
    given_name: str = ""
    family_name: str = ""
    postal_code: str = ""
    locality: str = ""
    region: str = ""
    country: str = ""
    phone: str = ""
    source: str = ""
    consent_instance_email: bool = False
    consent_national: bool = False
    consent_share_with_creators: bool = False


@dataclass(frozen=True)
class SignupResult:
    person_id: int
    created: bool


def clean_person(data: PersonInput) -> PersonInput:
    """Trimmed and checked; every message says what to change."""
    try:
        address = clean_email(data.email)
    except InvalidEmail as exc:
        raise UserError(str(exc)) from None
    values = {}
    for name, (label, limit) in TEXT_LIMITS.items():
        text = " ".join(getattr(data, name).split())
        if len(text) > limit:
            raise UserError(f"{label} are limited to {limit} characters.")
        values[name] = text
    values["postal_code"] = values["postal_code"].upper()
    if values["phone"] and not set(values["phone"]) <= _PHONE_CHARACTERS:
        raise UserError("Phone numbers may contain only digits, spaces, +, -, dots and brackets.")
    country = data.country.strip().upper()
    if country and (len(country) != 2 or not country.isascii() or not country.isalpha()):
        raise UserError("Countries are two-letter ISO 3166-1 codes, such as US or GB.")
    return replace(data, email=address, country=country, **values)


def _changes(existing: dict, data: PersonInput, *, overwrite: bool) -> dict:
    changes = {}
    for field in fields(PersonInput):
        name = field.name
        if name in ("email", "source"):
            continue
        value = getattr(data, name)
        if name in CONSENTS:
            if value and not existing[name]:
                changes[getattr(Person, name)] = True
        elif value and value != existing[name] and (overwrite or not existing[name]):
            changes[getattr(Person, name)] = value
    return changes


async def merge_into(person_id: int, data: PersonInput, *, overwrite: bool) -> None:
    """Apply `data` (already cleaned) to an existing member. Call inside a transaction."""
    columns = [getattr(Person, f.name) for f in fields(PersonInput) if f.name not in ("email", "source")]
    existing = await Person.select(*columns).where(Person.id == person_id).first()
    if existing is None:
        return
    changes = _changes(existing, data, overwrite=overwrite)
    if changes:
        changes[Person.updated_at] = datetime.now(UTC)
        await Person.update(changes).where(Person.id == person_id)


async def sign_up(data: PersonInput, *, overwrite: bool = False, tags: Sequence[str] = ()) -> SignupResult:
    """Create or update the member with this (normalized) email and add existing `tags`.
    Everything is checked before anything is written."""
    clean = clean_person(data)
    key = email_key(clean.email)
    tag_ids = await tag_ids_named(tags)
    async with transaction():
        inserted = await (
            Person.insert(
                Person(
                    email=clean.email,
                    email_key=key,
                    given_name=clean.given_name,
                    family_name=clean.family_name,
                    postal_code=clean.postal_code,
                    locality=clean.locality,
                    region=clean.region,
                    country=clean.country,
                    phone=clean.phone,
                    source=clean.source or "api",
                    consent_instance_email=clean.consent_instance_email,
                    consent_national=clean.consent_national,
                    consent_share_with_creators=clean.consent_share_with_creators,
                )
            )
            .on_conflict(target=Person.email_key, action="DO NOTHING")
            .returning(Person.id)
        )
        if inserted:
            result = SignupResult(inserted[0]["id"], True)
            await emit(
                "person.created",
                str(result.person_id),
                {"person_id": result.person_id, "source": clean.source or "api"},
            )
        else:
            row = await Person.select(Person.id).where(Person.email_key == key).first()
            assert row is not None
            result = SignupResult(row["id"], False)
            await merge_into(result.person_id, clean, overwrite=overwrite)
        await attach_tags(result.person_id, tag_ids)
    return result
