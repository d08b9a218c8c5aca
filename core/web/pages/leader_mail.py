"""“Email your signers”: a leader writes to the signers of a petition they run, previews it with
a real signer's merge fields, sends a test to themselves, then sends now or schedules it.

The platform sends on the leader's behalf and never shows them signers' addresses: the preview
names the signer by given name only. Who may mail a petition's signers is who may run it (its
creator, or staff: core.petitions.dashboard.petition_for_leader); the route group needs the
leader role (core.web.app).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.errors import NotFound, UserError
from core.mailings import composing, report, service
from core.mailings.audience import count_audience, parse_audience
from core.petitions.dashboard import petition_for_leader
from core.petitions.tables import Petition
from core.web.auth import viewer_of
from core.web.forms import Form
from core.web.mail_pages import (
    SCHEDULE_ZONE,
    preview_person,
    read_leader_form,
    read_send_time,
    sent_counts,
    submitted_values,
)

PAGE_MAX = 100_000
# What members can turn off on their preferences page, for a leader's email to signers.
TOPIC = "petition_updates"
DONE = {
    "saved": "Your draft is saved.",
    "tested": "A test is on its way to your inbox.",
    "sent": "Your email is on its way to your signers.",
    "scheduled": "Your email is scheduled.",
    "cancelled": "The email is cancelled; it will not be sent.",
}


async def _petition(request: Request, petition_id: int) -> Petition:
    viewer = viewer_of(request)
    assert viewer is not None  # the route group's guard saw to that
    return await petition_for_leader(
        petition_id, person_id=viewer.person_id, is_staff=viewer.has_role("staff")
    )


async def _mailing(request: Request, petition_id: int, mailing_id: int) -> tuple[Petition, dict[str, Any]]:
    """The petition (if this viewer runs it) and one of its signer mailings; anything else 404s."""
    petition = await _petition(request, petition_id)
    mailing = None
    if 0 < mailing_id < 2**31:
        try:
            mailing = await service.get_mailing(mailing_id)
        except NotFound:
            mailing = None
    if mailing is None or mailing["kind"] != "signers" or mailing["petition"] != petition.id:
        raise NotFound("There is no such email for this petition.")
    return petition, mailing


def _base(petition: Petition) -> str:
    return f"/lead/petitions/{petition.id}/mail"


def _to(path: str, done: str = "") -> Redirect:
    return Redirect(path=f"{path}{'?done=' + done if done else ''}", status_code=303)


async def _recipients(petition: Petition) -> int:
    return await count_audience(parse_audience({"petition": petition.id}), TOPIC)


async def _signer(petition: Petition) -> dict[str, Any] | None:
    """The consenting signer whose details a leader's preview shows; None: a made-up sample,
    because a leader must not learn the name of a signer who did not agree to share it."""
    return await preview_person(
        {"petition": petition.id}, TOPIC, petition_id=petition.id, consenting_only=True
    )


async def _compose(
    request: Request,
    petition: Petition,
    mailing: dict[str, Any] | None,
    *,
    values: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    schedule_errors: list[str] | None = None,
    done: str = "",
    status_code: int = 200,
) -> Template:
    """The compose page: the form (with what was typed, on errors), the merge-field cheat
    sheet, and for a saved draft its preview with a real signer's merge fields."""
    signer = await _signer(petition)
    preview = None
    problems: list[str] = []
    if mailing is not None:
        problems = composing.check_template(mailing["subject"], mailing["body"])
        if not problems:
            try:
                preview = await composing.preview(
                    mailing["id"], signer["id"] if signer else None, sample=signer is None
                )
            except UserError as exc:
                problems = [exc.message]
    if values is None:
        values = {"subject": mailing["subject"], "body": mailing["body"]} if mailing else {}
    return Template(
        template_name="leader/mail_compose.html",
        context={
            "petition": petition,
            "mailing": mailing,
            "values": values,
            "errors": errors or [],
            "schedule_errors": schedule_errors or [],
            "problems": problems,
            "preview": preview,
            "signer": signer,
            "recipients": await _recipients(petition),
            "merge_fields": list(composing.MERGE_FIELDS.items()),
            "zone": SCHEDULE_ZONE,
            "done": DONE.get(done, ""),
        },
        status_code=status_code,
    )


class LeaderMailController(Controller):
    """Leader role (see ROUTE_GROUPS); each handler checks the viewer runs the petition."""

    path = "/petitions/{petition_id:int}/mail"
    include_in_schema = False

    @get("/")
    async def mailings(
        self, request: Request, petition_id: FromPath[int], page: FromQuery[int] = 1
    ) -> Template:
        petition = await _petition(request, petition_id)
        listing = await service.list_mailings(
            kind="signers", petition_id=petition.id, page=min(max(page, 1), PAGE_MAX), per_page=25
        )
        sent = await sent_counts([m["id"] for m in listing["items"]])
        return Template(
            template_name="leader/mail.html",
            context={
                "petition": petition,
                "listing": listing,
                "sent": sent,
                "recipients": await _recipients(petition),
            },
        )

    @get("/new")
    async def new(self, request: Request, petition_id: FromPath[int]) -> Template:
        return await _compose(request, await _petition(request, petition_id), None)

    @post("/new", status_code=303)
    async def create(self, request: Request, petition_id: FromPath[int], data: Form) -> Template | Redirect:
        petition = await _petition(request, petition_id)
        viewer = viewer_of(request)
        assert viewer is not None
        draft, errors = read_leader_form(data)
        status = 400
        if not errors:
            try:
                mailing_id = await service.create_mailing(
                    kind="signers",
                    author_login_id=viewer.login_id,
                    subject=draft.subject,
                    body=draft.body,
                    audience={"petition": petition.id},
                    petition_id=petition.id,
                    topic=TOPIC,
                )
                return _to(f"{_base(petition)}/{mailing_id}", "saved")
            except UserError as exc:
                errors, status = [exc.message], exc.status_code
        return await _compose(
            request, petition, None, values=submitted_values(data), errors=errors, status_code=status
        )

    @get("/{mailing_id:int}")
    async def show(
        self,
        request: Request,
        petition_id: FromPath[int],
        mailing_id: FromPath[int],
        done: FromQuery[str] = "",
    ) -> Template | Redirect:
        petition, mailing = await _mailing(request, petition_id, mailing_id)
        if mailing["status"] not in ("draft", "scheduled"):
            return _to(f"{_base(petition)}/{mailing_id}/report", done)
        return await _compose(request, petition, mailing, done=done)

    @post("/{mailing_id:int}", status_code=303)
    async def save(
        self, request: Request, petition_id: FromPath[int], mailing_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        petition, mailing = await _mailing(request, petition_id, mailing_id)
        draft, errors = read_leader_form(data)
        status = 400
        if not errors:
            try:
                await service.update_mailing(mailing["id"], subject=draft.subject, body=draft.body)
                return _to(f"{_base(petition)}/{mailing_id}", "saved")
            except UserError as exc:
                errors, status = [exc.message], exc.status_code
        return await _compose(
            request, petition, mailing, values=submitted_values(data), errors=errors, status_code=status
        )

    @post("/{mailing_id:int}/test", status_code=303)
    async def test(self, request: Request, petition_id: FromPath[int], mailing_id: FromPath[int]) -> Redirect:
        petition, mailing = await _mailing(request, petition_id, mailing_id)
        viewer = viewer_of(request)
        assert viewer is not None
        signer = await _signer(petition)
        await service.send_test(
            mailing["id"], viewer.email, signer["id"] if signer else None, sample=signer is None
        )
        return _to(f"{_base(petition)}/{mailing_id}", "tested")

    @get("/{mailing_id:int}/send")
    async def confirm(
        self, request: Request, petition_id: FromPath[int], mailing_id: FromPath[int]
    ) -> Template:
        petition, mailing = await _mailing(request, petition_id, mailing_id)
        problems = composing.check_template(mailing["subject"], mailing["body"])
        return Template(
            template_name="leader/mail_send.html",
            context={
                "petition": petition,
                "mailing": mailing,
                "problems": problems,
                "recipients": await _recipients(petition),
            },
        )

    @post("/{mailing_id:int}/send", status_code=303)
    async def send(self, request: Request, petition_id: FromPath[int], mailing_id: FromPath[int]) -> Redirect:
        petition, mailing = await _mailing(request, petition_id, mailing_id)
        await service.send_now(mailing["id"])
        return _to(f"{_base(petition)}/{mailing_id}/report", "sent")

    @post("/{mailing_id:int}/schedule", status_code=303)
    async def schedule(
        self, request: Request, petition_id: FromPath[int], mailing_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        petition, mailing = await _mailing(request, petition_id, mailing_id)
        try:
            await service.schedule(mailing["id"], read_send_time(data))
        except UserError as exc:
            return await _compose(
                request,
                petition,
                mailing,
                values={"subject": mailing["subject"], "body": mailing["body"], **submitted_values(data)},
                schedule_errors=[exc.message],
                status_code=exc.status_code,
            )
        return _to(f"{_base(petition)}/{mailing_id}", "scheduled")

    @post("/{mailing_id:int}/cancel", status_code=303)
    async def cancel(
        self, request: Request, petition_id: FromPath[int], mailing_id: FromPath[int]
    ) -> Redirect:
        petition, mailing = await _mailing(request, petition_id, mailing_id)
        await service.cancel(mailing["id"])
        return _to(f"{_base(petition)}/{mailing_id}", "cancelled")

    @get("/{mailing_id:int}/report")
    async def report_page(
        self,
        request: Request,
        petition_id: FromPath[int],
        mailing_id: FromPath[int],
        done: FromQuery[str] = "",
    ) -> Template:
        petition, mailing = await _mailing(request, petition_id, mailing_id)
        return Template(
            template_name="leader/mail_report.html",
            context={
                "petition": petition,
                "mailing": mailing,
                "report": await report.mailing_report(mailing["id"]),
                "done": DONE.get(done, ""),
            },
        )
