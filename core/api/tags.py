"""OSDI tags and taggings (staff tokens only): the labels staff put on members."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.api.body import Href, StrictJSON, required
from core.api.hal import (
    DEFAULT_PER_PAGE,
    HAL_JSON,
    checked_id,
    common_fields,
    id_from_href,
    link,
    page_of,
    table_page,
)
from core.errors import UserError
from core.people import tags as tag_service
from core.people.tables import Tag, Tagging


class TagBody(msgspec.Struct):
    name: str
    description: str | None = None
    identifiers: list[str] | None = None
    origin_system: str | None = None


class TaggingBody(msgspec.Struct):
    links: dict[str, Href] = msgspec.field(name="_links")
    item_type: str | None = None
    identifiers: list[str] | None = None
    origin_system: str | None = None


def tag_resource(row: dict[str, Any]) -> dict[str, Any]:
    tag_id = row["id"]
    return {
        **common_fields(tag_id, row["created_at"], row["created_at"]),
        "name": row["name"],
        "description": row["description"],
        "_links": {"self": link(f"tags/{tag_id}"), "osdi:taggings": link(f"tags/{tag_id}/taggings")},
    }


def tagging_resource(row: dict[str, Any]) -> dict[str, Any]:
    tagging_id, tag_id = row["id"], row["tag"]
    return {
        **common_fields(tagging_id, row["created_at"], row["created_at"]),
        "item_type": "osdi:person",
        "_links": {
            "self": link(f"tags/{tag_id}/taggings/{tagging_id}"),
            "osdi:tag": link(f"tags/{tag_id}"),
            "osdi:person": link(f"people/{row['person']}"),
        },
    }


async def _tag_row(tag_id: int) -> dict[str, Any]:
    tag = await tag_service.get_tag(checked_id(tag_id, "tag"))
    return tag.to_dict()


class TagsApi(Controller):
    path = "/tags"
    tags = ["OSDI: tags"]

    @get("/", media_type=HAL_JSON, summary="List tags (staff)")
    async def list_tags(
        self, page: FromQuery[int] = 1, per_page: FromQuery[int] = DEFAULT_PER_PAGE
    ) -> dict[str, Any]:
        return await table_page(
            Tag, None, page_of(page, per_page), path="tags", rel="osdi:tags", render=tag_resource
        )

    @post("/", media_type=HAL_JSON, summary="Create a tag (staff)", dto=StrictJSON[TagBody], return_dto=None)
    async def create_tag(self, data: JSONBody[TagBody | None] = None) -> Response[dict[str, Any]]:
        data = required(data)
        tag = await tag_service.create_tag(data.name, data.description or "")
        return Response(tag_resource(tag.to_dict()), status_code=201, media_type=HAL_JSON)

    @get("/{tag_id:int}", media_type=HAL_JSON, summary="Get one tag (staff)")
    async def show_tag(self, tag_id: FromPath[int]) -> dict[str, Any]:
        return tag_resource(await _tag_row(tag_id))

    @get("/{tag_id:int}/taggings", media_type=HAL_JSON, summary="A tag's taggings (staff)")
    async def list_taggings(
        self, tag_id: FromPath[int], page: FromQuery[int] = 1, per_page: FromQuery[int] = DEFAULT_PER_PAGE
    ) -> dict[str, Any]:
        await _tag_row(tag_id)
        return await taggings_collection(
            Tagging.tag == tag_id, f"tags/{tag_id}/taggings", page_of(page, per_page)
        )

    @post(
        "/{tag_id:int}/taggings",
        media_type=HAL_JSON,
        summary="Tag a person (staff)",
        description='Body: `{"_links": {"osdi:person": {"href": ".../api/v1/people/ID"}}}`. '
        "Tagging someone twice changes nothing (200 instead of 201).",
        dto=StrictJSON[TaggingBody],
        return_dto=None,
    )
    async def create_tagging(
        self, tag_id: FromPath[int], data: JSONBody[TaggingBody | None] = None
    ) -> Response[dict]:
        data = required(data)
        await _tag_row(tag_id)
        if data.item_type not in (None, "osdi:person"):
            raise UserError("item_type: only people can be tagged here (osdi:person).")
        target = data.links.get("osdi:person")
        if target is None:
            raise UserError('_links: give the person to tag as {"osdi:person": {"href": "<person URL>"}}.')
        person_id = id_from_href(target.href, "people")
        if person_id is None:
            raise UserError("_links.osdi:person.href: link to a person on this server (…/api/v1/people/ID).")
        tagging_id, created = await tag_service.tag_person(tag_id, person_id)
        row = (await tag_service.get_tagging(tag_id, tagging_id)).to_dict()
        return Response(tagging_resource(row), status_code=201 if created else 200, media_type=HAL_JSON)

    @get("/{tag_id:int}/taggings/{tagging_id:int}", media_type=HAL_JSON, summary="Get one tagging (staff)")
    async def show_tagging(self, tag_id: FromPath[int], tagging_id: FromPath[int]) -> dict[str, Any]:
        await _tag_row(tag_id)
        tagging = await tag_service.get_tagging(tag_id, checked_id(tagging_id, "tagging"))
        return tagging_resource(tagging.to_dict())

    @delete(
        "/{tag_id:int}/taggings/{tagging_id:int}",
        media_type=HAL_JSON,
        status_code=200,
        summary="Remove a tagging (staff)",
    )
    async def delete_tagging(self, tag_id: FromPath[int], tagging_id: FromPath[int]) -> dict[str, str]:
        await _tag_row(tag_id)
        await tag_service.remove_tagging(tag_id, checked_id(tagging_id, "tagging"))
        return {"notice": "This tagging was successfully deleted."}


async def taggings_collection(condition: Any, path: str, paging: Any) -> dict[str, Any]:
    """One page of taggings matching `condition` (a tag's, or a person's)."""
    return await table_page(
        Tagging, condition, paging, path=path, rel="osdi:taggings", render=tagging_resource
    )
