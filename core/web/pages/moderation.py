"""Moderation pages: the staff queue (pending petitions, abuse reports), a petition's abuse
defence (where its signatures come from, blocks, held signatures), and the public form for
reporting a petition. Handlers parse, call core.moderation, render."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.errors import NotFound, UserError
from core.instance_settings import get_policy
from core.moderation import blocks, queue, reports, trending
from core.petitions.service import get_petition, get_petition_by_slug
from core.petitions.tables import Petition
from core.web.auth import viewer_of
from core.web.forms import Form, field


def _login_id(request: Request) -> int | None:
    viewer = viewer_of(request)
    return viewer.login_id if viewer else None


def _ids(data: dict[str, Any], name: str) -> list[int]:
    """Repeated form fields (checkboxes) as ids."""
    values = data.get(name, [])
    values = values if isinstance(values, list) else [values]
    try:
        return sorted({int(str(v)) for v in values if str(v).strip()})
    except ValueError:
        raise UserError("Some of the chosen items are not valid; reload the page and try again.") from None


class ModerationController(Controller):
    """Staff only (see ROUTE_GROUPS in core.web.app)."""

    path = "/staff"
    include_in_schema = False

    @get("/moderation")
    async def queue_page(self, done: FromQuery[str] = "") -> Template:
        return Template(
            template_name="staff/moderation.html",
            context={
                "mode": await get_policy("moderation"),
                "policy_note": await get_policy("policy_note"),
                "pending": await queue.pending_petitions(),
                "pending_total": await queue.pending_count(),
                "reports": await queue.open_reports(),
                "reports_total": await queue.open_report_count(),
                "busiest": await trending.busiest_petitions("hour"),
                "held": await trending.petitions_with_held(),
                "done": done[:20],
                "reason_max": queue.REASON_MAX,
            },
        )

    @post("/moderation/petitions/{petition_id:int}/approve", status_code=303)
    async def approve(self, petition_id: FromPath[int]) -> Redirect:
        await queue.approve(petition_id)
        return Redirect(path="/staff/moderation?done=approved", status_code=303)

    @post("/moderation/petitions/{petition_id:int}/reject", status_code=303)
    async def reject(self, petition_id: FromPath[int], data: Form) -> Redirect:
        await queue.reject(petition_id, field(data, "reason", max_length=queue.REASON_MAX))
        return Redirect(path="/staff/moderation?done=rejected", status_code=303)

    @post("/moderation/reports/{report_id:int}/dismiss", status_code=303)
    async def dismiss(self, request: Request, report_id: FromPath[int]) -> Redirect:
        await queue.dismiss_report(report_id, login_id=_login_id(request))
        return Redirect(path="/staff/moderation?done=dismissed", status_code=303)

    @post("/moderation/reports/{report_id:int}/uphold", status_code=303)
    async def uphold(self, request: Request, report_id: FromPath[int], data: Form) -> Redirect:
        taken_down = await queue.uphold_report(
            report_id, field(data, "reason", max_length=queue.REASON_MAX), login_id=_login_id(request)
        )
        return Redirect(
            path=f"/staff/moderation?done={'taken-down' if taken_down else 'upheld'}", status_code=303
        )

    @get("/petitions/{petition_id:int}/abuse")
    async def abuse(
        self,
        petition_id: FromPath[int],
        window: FromQuery[str] = "hour",
        done: FromQuery[str] = "",
        n: FromQuery[int] = 0,
    ) -> Template:
        petition = await get_petition(petition_id)
        held, held_total = await blocks.held_signatures(petition_id)
        applying = await blocks.blocks_for(petition_id)
        return Template(
            template_name="staff/abuse.html",
            context={
                "petition": petition,
                "trend": await trending.trending(petition_id, window),
                "windows": list(trending.WINDOWS),
                "blocks": applying,
                "blocked": {(b.kind, b.value) for b in applying},
                "held": held,
                "held_total": held_total,
                "done": done[:20],
                "n": n,
            },
        )

    @post("/petitions/{petition_id:int}/blocks", status_code=303)
    async def add_block(self, request: Request, petition_id: FromPath[int], data: Form) -> Redirect:
        where = field(data, "where", max_length=20) or "petition"
        if where not in ("petition", "everywhere"):
            raise UserError("Choose where the block applies: this petition or everywhere.")
        await blocks.block(
            field(data, "kind", max_length=10),
            field(data, "value", max_length=255),
            petition_id=petition_id if where == "petition" else None,
            login_id=_login_id(request),
            reason=field(data, "reason", max_length=blocks.REASON_MAX),
        )
        return Redirect(path=f"/staff/petitions/{petition_id}/abuse?done=blocked", status_code=303)

    @post("/petitions/{petition_id:int}/blocks/{block_id:int}/delete", status_code=303)
    async def remove_block(self, petition_id: FromPath[int], block_id: FromPath[int]) -> Redirect:
        await get_petition(petition_id)
        await blocks.unblock(block_id)
        return Redirect(path=f"/staff/petitions/{petition_id}/abuse?done=unblocked", status_code=303)

    @post("/petitions/{petition_id:int}/release", status_code=303)
    async def release(self, petition_id: FromPath[int], data: Form) -> Redirect:
        chosen = None if field(data, "all") else _ids(data, "signature")
        released = await blocks.release(petition_id, chosen)
        return Redirect(
            path=f"/staff/petitions/{petition_id}/abuse?done=released&n={released}", status_code=303
        )


class ReportPages(Controller):
    """Public: anyone may report a petition (see ROUTE_GROUPS in core.web.app)."""

    path = "/p"
    include_in_schema = False

    @staticmethod
    async def _reportable(slug: str) -> Petition:
        petition = await get_petition_by_slug(slug)
        if petition.status not in reports.REPORTABLE:
            raise NotFound("There is no public petition at this address.")
        return petition

    @get("/{slug:str}/report")
    async def report_form(self, slug: FromPath[str]) -> Template:
        petition = await self._reportable(slug)
        return Template(
            template_name="petitions/report.html",
            context={"petition": petition, "reason_max": reports.REASON_MAX},
        )

    @post("/{slug:str}/report", status_code=200)
    async def report(self, request: Request, slug: FromPath[str], data: Form) -> Template:
        petition = await self._reportable(slug)
        if not field(data, "website"):  # the honeypot: people never see it, bots fill it in
            await reports.file_report(
                petition.id,
                field(data, "reason", max_length=reports.REASON_MAX),
                reporter_id=(viewer.person_id if (viewer := viewer_of(request)) else None),
                ip=request.client.host if request.client else "",
            )
        return Template(template_name="petitions/reported.html", context={"petition": petition})
