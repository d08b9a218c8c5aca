"""OSDI people: members, for staff tokens only (member data is sensitive)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.params import FromPath, FromQuery

from core.api.hal import (
    DEFAULT_PER_PAGE,
    HAL_JSON,
    checked_id,
    common_fields,
    link,
    page_of,
    table_page,
)
from core.api.tags import taggings_collection
from core.errors import NotFound
from core.people.tables import Person, Tagging

# Person.subscription as OSDI email address statuses.
EMAIL_STATUS = {
    "subscribed": "subscribed",
    "unsubscribed": "unsubscribed",
    "bounced": "bouncing",
    "complained": "spam complaint",
}


def person_path(person_id: int) -> str:
    return f"people/{person_id}"


def contact_fields(row: dict[str, Any]) -> dict[str, Any]:
    """Name, email, postal address and phone in OSDI's shapes (empty parts left out)."""
    fields: dict[str, Any] = {
        "given_name": row["given_name"],
        "family_name": row["family_name"],
        "email_addresses": [
            {
                "primary": True,
                "address": row["email"],
                "status": EMAIL_STATUS.get(row.get("subscription", ""), "subscribed"),
            }
        ],
    }
    address = {k: row.get(k, "") for k in ("locality", "region", "postal_code", "country")}
    if any(address.values()):
        fields["postal_addresses"] = [{"primary": True, **{k: v for k, v in address.items() if v}}]
    if row.get("phone"):
        fields["phone_numbers"] = [{"primary": True, "number": row["phone"]}]
    return fields


def person_resource(row: dict[str, Any]) -> dict[str, Any]:
    person_id = row["id"]
    return {
        **common_fields(person_id, row["created_at"], row["updated_at"]),
        **contact_fields(row),
        "source": row["source"],
        "consents": {
            "instance_email": row["consent_instance_email"],
            "national_campaigns": row["consent_national"],
            "share_with_creators": row["consent_share_with_creators"],
        },
        "_links": {
            "self": link(person_path(person_id)),
            "osdi:taggings": link(f"{person_path(person_id)}/taggings"),
        },
    }


async def person_row(person_id: int) -> dict[str, Any]:
    row = await Person.select().where(Person.id == checked_id(person_id, "person")).first()
    if row is None:
        raise NotFound("There is no such person.")
    return row


class PeopleApi(Controller):
    path = "/people"
    tags = ["OSDI: people"]

    @get("/", media_type=HAL_JSON, summary="List people (staff)")
    async def list_people(
        self, page: FromQuery[int] = 1, per_page: FromQuery[int] = DEFAULT_PER_PAGE
    ) -> dict[str, Any]:
        return await table_page(
            Person, None, page_of(page, per_page), path="people", rel="osdi:people", render=person_resource
        )

    @get("/{person_id:int}", media_type=HAL_JSON, summary="Get one person (staff)")
    async def show_person(self, person_id: FromPath[int]) -> dict[str, Any]:
        return person_resource(await person_row(person_id))

    @get("/{person_id:int}/taggings", media_type=HAL_JSON, summary="A person's taggings (staff)")
    async def person_taggings(
        self, person_id: FromPath[int], page: FromQuery[int] = 1, per_page: FromQuery[int] = DEFAULT_PER_PAGE
    ) -> dict[str, Any]:
        await person_row(person_id)
        return await taggings_collection(
            Tagging.person == person_id, f"{person_path(person_id)}/taggings", page_of(page, per_page)
        )
