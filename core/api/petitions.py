"""OSDI petitions: any token reads public petitions (and its holder's own drafts); any token
starts one. Staff and admin tokens publish at once; other petitions follow the instance's
moderation policy, exactly as when started on the site."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from core.accounts.roles import Viewer
from core.api.body import StrictJSON, required
from core.api.hal import (
    DEFAULT_PER_PAGE,
    HAL_JSON,
    api_viewer,
    beyond_last,
    checked_id,
    collection,
    common_fields,
    iso,
    link,
    page_of,
)
from core.db import write_transaction
from core.errors import NotFound
from core.petitions import counter
from core.petitions.service import (
    PetitionInput,
    TargetInput,
    create_petition,
    ensure_editable_by,
    submit_petition,
    targets_of,
    update_petition,
)
from core.petitions.tables import Petition, PetitionTarget
from core.settings import current_settings

PUBLIC_STATUSES = ("published", "closed", "delivered")


class TargetBody(msgspec.Struct):
    name: str
    title: str | None = None
    phone: str | None = None
    email: str | None = None
    postal_area: str | None = None


class ScopeBody(msgspec.Struct):
    kind: str
    value: str | None = None


class PetitionBody(msgspec.Struct):
    """OSDI fields plus Groundswell's `goal` and `scope`. The text is `petition_text` (Markdown);
    `description` is accepted instead when `petition_text` is absent."""

    title: str | None = None
    summary: str | None = None
    description: str | None = None
    petition_text: str | None = None
    target: list[TargetBody] | None = None
    goal: int | None = None
    scope: ScopeBody | None = None
    identifiers: list[str] | None = None
    origin_system: str | None = None
    name: str | None = None


def petition_path(petition_id: int) -> str:
    return f"petitions/{petition_id}"


def _target(row: PetitionTarget) -> dict[str, str]:
    target = {"name": row.name, "title": row.title}
    for extra in ("phone", "email", "postal_area"):
        if getattr(row, extra):
            target[extra] = getattr(row, extra)
    return target


def petition_resource(petition: Petition, targets: list[PetitionTarget], total: int) -> dict[str, Any]:
    pid = petition.id
    origin = f"{petition.origin_node}:{petition.origin_id}" if petition.origin_node else ""
    links: dict[str, Any] = {
        "self": link(petition_path(pid)),
        "osdi:signatures": link(f"{petition_path(pid)}/signatures"),
        "osdi:record_signature_helper": link(f"{petition_path(pid)}/record_signature_helper"),
    }
    if petition.creator:
        links["osdi:creator"] = link(f"people/{petition.creator}")
    return {
        **common_fields(pid, petition.created_at, petition.updated_at, origin),
        "title": petition.title,
        "summary": petition.summary,
        "description": petition.body_html,
        "petition_text": petition.body,
        "browser_url": f"{current_settings().public_url}/p/{petition.slug}",
        "total_signatures": total,
        "target": [_target(t) for t in targets],
        "status": petition.status,
        "goal": petition.goal,
        "scope": {"kind": petition.scope_kind, "value": petition.scope_value},
        "published_date": iso(petition.published_at),
        "_links": links,
        # A copy received from another system names that system as its origin.
        **({"origin_system": petition.origin_node} if petition.origin_node else {}),
    }


def _visible_to(viewer: Viewer) -> Any:
    """Public petitions, and for anyone but staff, their own unpublished ones too."""
    if viewer.has_role("staff"):
        return None
    return Petition.status.is_in(list(PUBLIC_STATUSES)) | (Petition.creator == viewer.person_id)


async def visible_petition(petition_id: int, viewer: Viewer) -> Petition:
    """The petition, if this viewer may see it; otherwise 404 (hidden ones are not revealed)."""
    query = Petition.objects().where(Petition.id == checked_id(petition_id, "petition"))
    condition = _visible_to(viewer)
    if condition is not None:
        query = query.where(condition)
    petition = await query.first()
    if petition is None:
        raise NotFound("There is no such petition, or it is not public yet.")
    return petition


async def render_petition(petition: Petition) -> dict[str, Any]:
    return petition_resource(petition, await targets_of(petition.id), await counter.total(petition.id))


def _input(data: PetitionBody, current: PetitionInput | None = None) -> PetitionInput:
    """The service's input from a body; with `current`, fields left out keep their value."""
    base = current or PetitionInput(title="", body="")
    text = data.petition_text if data.petition_text is not None else data.description
    targets = base.targets
    if data.target is not None:
        targets = [
            TargetInput(
                name=t.name,
                title=t.title or "",
                phone=t.phone or "",
                email=t.email or "",
                postal_area=t.postal_area or "",
            )
            for t in data.target
        ]
    return PetitionInput(
        title=data.title if data.title is not None else base.title,
        body=text if text is not None else base.body,
        targets=targets,
        summary=data.summary if data.summary is not None else base.summary,
        goal=data.goal if data.goal is not None else base.goal,
        scope_kind=data.scope.kind if data.scope is not None else base.scope_kind,
        scope_value=(data.scope.value or "") if data.scope is not None else base.scope_value,
        group_id=base.group_id,
    )


class PetitionsApi(Controller):
    path = "/petitions"
    tags = ["OSDI: petitions"]

    @get("/", media_type=HAL_JSON, summary="List petitions")
    async def list_petitions(
        self, request: Request, page: FromQuery[int] = 1, per_page: FromQuery[int] = DEFAULT_PER_PAGE
    ) -> dict[str, Any]:
        """Public petitions (published, closed, delivered) and the caller's own; staff see all."""
        paging = page_of(page, per_page)
        condition = _visible_to(api_viewer(request))
        count = Petition.count()
        query = Petition.objects().order_by(Petition.id)
        if condition is not None:
            count, query = count.where(condition), query.where(condition)
        total = await count
        petitions = [] if beyond_last(paging, total) else await query.limit(paging.size).offset(paging.offset)
        ids = [p.id for p in petitions]
        totals = await counter.totals(ids)
        targets: dict[int, list[PetitionTarget]] = {pid: [] for pid in ids}
        if ids:
            rows = await (
                PetitionTarget.objects()
                .where(PetitionTarget.petition.is_in(ids))
                .order_by(PetitionTarget.position)
            )
            for row in rows:
                targets[row.petition].append(row)
        return collection(
            path="petitions",
            rel="osdi:petitions",
            items=[petition_resource(p, targets[p.id], totals[p.id]) for p in petitions],
            page=paging,
            total=total,
        )

    @get("/{petition_id:int}", media_type=HAL_JSON, summary="Get one petition")
    async def show_petition(self, request: Request, petition_id: FromPath[int]) -> dict[str, Any]:
        return await render_petition(await visible_petition(petition_id, api_viewer(request)))

    @post(
        "/",
        media_type=HAL_JSON,
        summary="Start a petition",
        description="Needs `title`, `petition_text` (Markdown, at least 30 characters) and at least one "
        "`target`. Staff and admin tokens publish at once; others follow the moderation policy "
        "(published, or pending review under pre-moderation).",
        dto=StrictJSON[PetitionBody],
        return_dto=None,
    )
    async def create(
        self, request: Request, data: JSONBody[PetitionBody | None] = None
    ) -> Response[dict[str, Any]]:
        data = required(data)
        viewer = api_viewer(request)
        async with write_transaction():  # created and submitted together, or not at all
            petition = await create_petition(_input(data), creator_id=viewer.person_id)
            petition = await submit_petition(petition.id, trusted=viewer.has_role("staff"))
        return Response(await render_petition(petition), status_code=201, media_type=HAL_JSON)

    @put(
        "/{petition_id:int}",
        media_type=HAL_JSON,
        summary="Change a petition (its creator or staff)",
        description="Fields left out keep their value; `target`, when given, replaces the list.",
        dto=StrictJSON[PetitionBody],
        return_dto=None,
    )
    async def change(
        self, request: Request, petition_id: FromPath[int], data: JSONBody[PetitionBody | None] = None
    ) -> dict[str, Any]:
        data = required(data)
        viewer = api_viewer(request)
        petition = await visible_petition(petition_id, viewer)
        ensure_editable_by(petition, person_id=viewer.person_id, is_staff=viewer.has_role("staff"))
        current = PetitionInput(
            title=petition.title,
            body=petition.body,
            targets=[
                TargetInput(
                    name=t.name, title=t.title, phone=t.phone, email=t.email, postal_area=t.postal_area
                )
                for t in await targets_of(petition.id)
            ],
            summary=petition.summary,
            goal=petition.goal,
            scope_kind=petition.scope_kind,
            scope_value=petition.scope_value,
            group_id=petition.group,
        )
        updated = await update_petition(petition.id, _input(data, current))
        return await render_petition(updated)
