"""OSDI signatures of a petition: for staff and for the petition's creator.

Staff see every signature with its status and a link to the signer. A creator who is not staff
sees the counted signatures, and the signer's name, email and postal code only where the
signer agreed to share them with the creator (no link to the person: reading people is for
staff)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery

from core.accounts.roles import Viewer
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
from core.api.people import contact_fields
from core.api.petitions import petition_path, visible_petition
from core.errors import Forbidden, NotFound
from core.petitions.tables import Petition, Signature

_SIGNER_COLUMNS = ("email", "given_name", "family_name", "postal_code")


def may_read_signatures(viewer: Viewer, petition: Petition) -> bool:
    return viewer.has_role("staff") or (petition.creator is not None and petition.creator == viewer.person_id)


def ensure_may_read_signatures(viewer: Viewer, petition: Petition) -> None:
    if not may_read_signatures(viewer, petition):
        raise Forbidden("Only the petition's creator or staff can read its signatures.")


def _query(viewer: Viewer, petition_id: int, columns: bool = True) -> Any:
    selected = [Signature.all_columns()] + [getattr(Signature.person, c) for c in _SIGNER_COLUMNS]
    query = Signature.select(*selected) if columns else Signature.count()
    query = query.where(Signature.petition == petition_id)
    if not viewer.has_role("staff"):
        query = query.where(Signature.status == "counted")
    return query


def signature_resource(row: dict[str, Any], *, staff: bool) -> dict[str, Any]:
    sid, pid = row["id"], row["petition"]
    resource: dict[str, Any] = {
        **common_fields(sid, row["created_at"], row["confirmed_at"] or row["created_at"]),
        "action_date": iso(row["created_at"]),
        "comments": row["comment"],
        "referrer_data": {"source": row["source"]} if row["source"] else {},
        "status": row["status"],
        "share_with_creator": row["share_with_creator"],
        "_links": {
            "self": link(f"{petition_path(pid)}/signatures/{sid}"),
            "osdi:petition": link(petition_path(pid)),
        },
    }
    if staff:
        resource["_links"]["osdi:person"] = link(f"people/{row['person']}")
    elif row["share_with_creator"]:
        signer = {c: row[f"person.{c}"] for c in _SIGNER_COLUMNS}
        contact = contact_fields(signer)
        for address in contact["email_addresses"]:
            address.pop("status", None)  # the creator learns the address, not its mail status
        resource["_embedded"] = {"osdi:person": contact}
    return resource


async def signature_for(viewer: Viewer, petition_id: int, signature_id: int) -> dict[str, Any]:
    row = await _query(viewer, petition_id).where(Signature.id == signature_id).first()
    if row is None:
        raise NotFound("There is no such signature on this petition.")
    return signature_resource(row, staff=viewer.has_role("staff"))


class SignaturesApi(Controller):
    path = "/petitions/{petition_id:int}/signatures"
    tags = ["OSDI: signatures"]

    @get("/", media_type=HAL_JSON, summary="A petition's signatures (its creator or staff)")
    async def list_signatures(
        self,
        request: Request,
        petition_id: FromPath[int],
        page: FromQuery[int] = 1,
        per_page: FromQuery[int] = DEFAULT_PER_PAGE,
    ) -> dict[str, Any]:
        viewer = api_viewer(request)
        paging = page_of(page, per_page)
        petition = await visible_petition(petition_id, viewer)
        ensure_may_read_signatures(viewer, petition)
        total = await _query(viewer, petition.id, columns=False)
        rows = []
        if not beyond_last(paging, total):
            rows = await (
                _query(viewer, petition.id).order_by(Signature.id).limit(paging.size).offset(paging.offset)
            )
        return collection(
            path=f"{petition_path(petition.id)}/signatures",
            rel="osdi:signatures",
            items=[signature_resource(r, staff=viewer.has_role("staff")) for r in rows],
            page=paging,
            total=total,
        )

    @get(
        "/{signature_id:int}", media_type=HAL_JSON, summary="One signature (the petition's creator or staff)"
    )
    async def show_signature(
        self, request: Request, petition_id: FromPath[int], signature_id: FromPath[int]
    ) -> dict[str, Any]:
        viewer = api_viewer(request)
        petition = await visible_petition(petition_id, viewer)
        ensure_may_read_signatures(viewer, petition)
        return await signature_for(viewer, petition.id, checked_id(signature_id, "signature"))
