"""The campaign leader's area (/lead): their petitions, each petition's dashboard, editing,
publishing and closing, signer exports and the delivery packet.

The route group needs the leader role (core.web.app); who may run *this* petition (its
creator, or staff) is decided by core.petitions.dashboard.petition_for_leader.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template

from core.boost.service import leader_view
from core.errors import UserError
from core.instance_settings import get_policy
from core.petitions import counter
from core.petitions.chart import signature_chart
from core.petitions.dashboard import (
    SIGNATURE_STATUSES,
    comments,
    daily_signatures,
    ensure_text_editable,
    petition_for_leader,
    petitions_led_by,
    sources,
    status_counts,
)
from core.petitions.delivery import delivery_csv, delivery_pdf
from core.petitions.service import (
    close_petition,
    mark_delivered,
    submit_petition,
    targets_of,
    update_petition,
)
from core.petitions.signers import consenting_signers, signers_csv
from core.petitions.tables import SCOPES, Petition
from core.web.auth import viewer_of
from core.web.forms import Form
from core.web.pages.petitions import petition_url, share_links
from core.web.petition_form import TARGET_ROWS, form_values, read_petition_form, submitted_values

PAGE_MAX = 100_000
DONE = {
    "published": "Your petition is published. Share it: every share link carries a source code.",
    "submitted": "Your petition is waiting for review. You will see it published here once staff approve it.",
    "saved": "Your changes are saved.",
    "closed": "The petition is closed and no longer takes signatures. Download the delivery packet below.",
    "delivered": "Marked as delivered. Thank you, and thank your signers!",
}


async def _petition(request: Request, petition_id: int) -> Petition:
    viewer = viewer_of(request)
    assert viewer is not None  # the route group's guard saw to that
    return await petition_for_leader(
        petition_id, person_id=viewer.person_id, is_staff=viewer.has_role("staff")
    )


def _dashboard(petition: Petition, done: str = "") -> Redirect:
    return Redirect(path=f"/lead/petitions/{petition.id}{'?done=' + done if done else ''}", status_code=303)


def _download(filename: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }


class LeaderController(Controller):
    path = "/"
    include_in_schema = False

    @get("/")
    async def index(self, request: Request, page: FromQuery[int] = 1) -> Template:
        viewer = viewer_of(request)
        assert viewer is not None
        listing = await petitions_led_by(
            person_id=viewer.person_id, is_staff=viewer.has_role("staff"), page=min(max(page, 1), PAGE_MAX)
        )
        return Template(template_name="leader/index.html", context={"listing": listing})

    @get("/petitions/{petition_id:int}")
    async def dashboard(
        self,
        request: Request,
        petition_id: FromPath[int],
        done: FromQuery[str] = "",
        page: FromQuery[int] = 1,
    ) -> Template:
        petition = await _petition(request, petition_id)
        viewer = viewer_of(request)
        total = await counter.total(petition.id)
        daily = await daily_signatures(petition)
        context = {
            "petition": petition,
            "targets": await targets_of(petition.id),
            "total": total,
            "percent": min(100, round(100 * total / petition.goal)) if petition.goal else 0,
            "statuses": await status_counts(petition.id),
            "status_names": SIGNATURE_STATUSES,
            "chart": signature_chart(daily, title=f"Signatures for “{petition.title}”", goal=petition.goal),
            "days": len(daily),
            "sources": await sources(petition.id),
            "comments": await comments(petition.id, min(max(page, 1), PAGE_MAX)),
            "signers": await consenting_signers(petition.id),
            "moderation": await get_policy("moderation"),
            "trusted": bool(viewer and viewer.has_role("staff")),
            "url": petition_url(petition),
            "share": share_links(petition),
            "done": DONE.get(done, ""),
            "boost": await leader_view(petition.id),
        }
        return Template(template_name="leader/dashboard.html", context=context)

    @post("/petitions/{petition_id:int}/publish", status_code=303)
    async def publish(self, request: Request, petition_id: FromPath[int]) -> Redirect:
        petition = await _petition(request, petition_id)
        viewer = viewer_of(request)
        petition = await submit_petition(petition.id, trusted=bool(viewer and viewer.has_role("staff")))
        return _dashboard(petition, "published" if petition.status == "published" else "submitted")

    @post("/petitions/{petition_id:int}/close", status_code=303)
    async def close(self, request: Request, petition_id: FromPath[int]) -> Redirect:
        petition = await close_petition((await _petition(request, petition_id)).id)
        return _dashboard(petition, "closed")

    @post("/petitions/{petition_id:int}/deliver", status_code=303)
    async def deliver(self, request: Request, petition_id: FromPath[int]) -> Redirect:
        petition = await mark_delivered((await _petition(request, petition_id)).id)
        return _dashboard(petition, "delivered")

    @get("/petitions/{petition_id:int}/edit")
    async def edit_form(self, request: Request, petition_id: FromPath[int]) -> Template:
        petition = await _petition(request, petition_id)
        ensure_text_editable(petition)
        targets = await targets_of(petition.id)
        return Template(
            template_name="leader/edit.html",
            context={
                "petition": petition,
                "values": form_values(petition, targets),
                "errors": [],
                "target_rows": range(max(TARGET_ROWS, len(targets))),
                "scopes": SCOPES,
            },
        )

    @post("/petitions/{petition_id:int}/edit", status_code=303)
    async def edit(self, request: Request, petition_id: FromPath[int], data: Form) -> Template | Redirect:
        petition = await _petition(request, petition_id)
        ensure_text_editable(petition)
        existing = len(await targets_of(petition.id))
        rows = max(TARGET_ROWS, existing)
        parsed, errors = read_petition_form(data, rows, petition.group)
        if parsed is not None:
            try:
                petition = await update_petition(petition.id, parsed)
                return _dashboard(petition, "saved")
            except UserError as exc:
                if exc.status_code != 400:
                    raise
                errors = [exc.message]
        values = submitted_values(data)
        return Template(
            template_name="leader/edit.html",
            context={
                "petition": petition,
                "values": values,
                "errors": errors,
                "target_rows": range(rows),
                "scopes": SCOPES,
            },
            status_code=400,
        )

    @get("/petitions/{petition_id:int}/signers.csv")
    async def signers_export(self, request: Request, petition_id: FromPath[int]) -> Stream:
        petition = await _petition(request, petition_id)
        return Stream(
            signers_csv(petition.id),
            media_type="text/csv",  # Litestar adds "; charset=utf-8"
            headers=_download(f"{petition.slug}-signers.csv"),
        )

    @get("/petitions/{petition_id:int}/delivery.csv")
    async def packet_csv(self, request: Request, petition_id: FromPath[int]) -> Stream:
        petition = await _petition(request, petition_id)
        return Stream(
            delivery_csv(petition),
            media_type="text/csv",  # Litestar adds "; charset=utf-8"
            headers=_download(f"{petition.slug}-delivery.csv"),
        )

    @get("/petitions/{petition_id:int}/delivery.pdf")
    async def packet_pdf(self, request: Request, petition_id: FromPath[int]) -> Response:
        petition = await _petition(request, petition_id)
        return Response(
            content=await delivery_pdf(petition),
            media_type="application/pdf",
            headers=_download(f"{petition.slug}-delivery.pdf"),
        )
