"""Staff mailings (/staff/mailings): mail members by audience, with A/B subject tests and a
circuit breaker, and saved audiences (/staff/audiences). Handlers parse the form, call
core.mailings, render; every rule lives there. The route group needs the staff role.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.errors import NotFound, UserError
from core.groups.service import all_groups
from core.mailings import composing, report, saved_audiences, service
from core.mailings.audience import count_audience, describe_audience, parse_audience
from core.mailings.tables import MAIL_TOPICS, MAILING_STATUSES
from core.people.tables import Tag
from core.petitions.tables import Petition
from core.web.auth import viewer_of
from core.web.forms import Form, field
from core.web.mail_pages import (
    DEFAULTS,
    SCHEDULE_ZONE,
    VARIANT_LABELS,
    form_values,
    preview_person,
    read_audience_form,
    read_send_time,
    read_staff_form,
    sent_counts,
    submitted_values,
    window_words,
)

PAGE_MAX = 100_000
PETITION_CHOICES = 500
DONE = {
    "saved": "The mailing is saved as a draft.",
    "tested": "A test is on its way to your inbox.",
    "sent": "The mailing is on its way.",
    "testing": "The A/B test is on its way; the winner goes to the rest when the window closes.",
    "scheduled": "The mailing is scheduled.",
    "cancelled": "The mailing is cancelled; nothing more of it will be sent.",
    "halted": "The mailing is halted: nothing more goes out until you resume it.",
    "resumed": "The mailing is sending again.",
    "audience-saved": "The audience is saved.",
    "audience-deleted": "The saved audience is deleted.",
}


def _login_id(request: Request) -> int:
    viewer = viewer_of(request)
    assert viewer is not None  # the route group's guard saw to that
    return viewer.login_id


def _to(path: str, done: str = "") -> Redirect:
    return Redirect(path=f"{path}{'?done=' + done if done else ''}", status_code=303)


async def _mailing(mailing_id: int) -> dict[str, Any]:
    if not 0 < mailing_id < 2**31:
        raise NotFound("There is no such mailing.")
    return await service.get_mailing(mailing_id)


def _subjects(mailing: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, subject) for each variant; ("", subject) without a test."""
    return [(v["label"], v["subject"]) for v in mailing["variants"]] or [("", mailing["subject"])]


def _problems(mailing: dict[str, Any]) -> list[str]:
    """What stops the mailing from rendering, each problem once."""
    found: list[str] = []
    for _, subject in _subjects(mailing):
        for problem in composing.check_template(
            subject, mailing["body"], has_petition=bool(mailing["petition"])
        ):
            if problem not in found:
                found.append(problem)
    return found


async def _choices() -> dict[str, Any]:
    """What the audience builder offers."""
    petitions = await (
        Petition.select(Petition.id, Petition.title, Petition.status)
        .where(Petition.status.is_in(["published", "closed", "delivered"]))
        .order_by(Petition.id, ascending=False)
        .limit(PETITION_CHOICES)
    )
    return {
        "groups": await all_groups(),
        "tags": await Tag.select(Tag.id, Tag.name).order_by(Tag.name),
        "petitions": petitions,
        "saved": await saved_audiences.list_saved(),
        "topics": MAIL_TOPICS,
        "labels": VARIANT_LABELS,
    }


async def _count(spec: dict[str, Any], topic: str) -> tuple[int | None, str, list[str]]:
    """How many the audience reaches now and in words, or the problem with it."""
    try:
        audience = parse_audience(spec)
        return await count_audience(audience, topic), await describe_audience(audience), []
    except UserError as exc:
        return None, "", [exc.message]


async def _form(
    mailing: dict[str, Any] | None,
    values: dict[str, Any],
    *,
    errors: list[str] | None = None,
    schedule_errors: list[str] | None = None,
    count: int | None = None,
    described: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Template:
    """The mailing form; for a saved draft also its preview (each subject line, with a real
    member's merge fields), the test and the send controls."""
    previews: list[dict[str, Any]] = []
    problems: list[str] = []
    person = None
    if mailing is not None:
        problems = _problems(mailing)
        if count is None:
            count, described, audience_problems = await _count(mailing["audience"], mailing["topic"])
            problems += audience_problems
        if not problems:
            try:
                person = await preview_person(mailing["audience"], mailing["topic"])
                for label, _ in _subjects(mailing):
                    rendered = await composing.preview(
                        mailing["id"], person["id"] if person else None, variant=label
                    )
                    previews.append({"label": label, "mail": rendered})
            except UserError as exc:
                problems.append(exc.message)
    return Template(
        template_name="staff/mail_form.html",
        context={
            "mailing": mailing,
            "values": {**DEFAULTS, **values},
            "errors": errors or [],
            "schedule_errors": schedule_errors or [],
            "problems": problems,
            "previews": previews,
            "person": person,
            "count": count,
            "described": described,
            "notice": notice,
            "merge_fields": list(composing.MERGE_FIELDS.items()),
            "zone": SCHEDULE_ZONE,
            **await _choices(),
        },
        status_code=status_code,
    )


async def _submit(
    request: Request, data: dict[str, Any], mailing: dict[str, Any] | None
) -> Template | Redirect:
    """The mailing form's buttons: count the recipients, save the audience, or save the draft.
    Whatever happens, what was typed is shown again."""
    values = submitted_values(data)
    action = field(data, "action", max_length=20) or "save"
    if action == "count":
        spec, errors = read_audience_form(data)
        topic = str(values.get("topic") or "campaigns")
        count, described, problems = (None, "", []) if errors else await _count(spec, topic)
        return await _form(
            mailing,
            values,
            errors=errors + problems,
            count=count,
            described=described,
            status_code=400 if errors or problems else 200,
        )
    status = 400
    if action == "save_audience":
        spec, errors = read_audience_form(data)
        if not errors:
            name = field(data, "audience_name", max_length=100)
            try:
                await saved_audiences.save_audience(name, spec, author_login_id=_login_id(request))
                return await _form(
                    mailing, values, notice=f"The audience is saved as “{' '.join(name.split())}”."
                )
            except UserError as exc:
                errors, status = [exc.message], exc.status_code
        return await _form(mailing, values, errors=errors, status_code=status)
    draft, errors = read_staff_form(data)
    if not errors:
        try:
            if mailing is None:
                mailing_id = await service.create_mailing(
                    kind="members", author_login_id=_login_id(request), **draft.fields()
                )
            else:
                mailing_id = mailing["id"]
                await service.update_mailing(mailing_id, **draft.fields())
            return _to(f"/staff/mailings/{mailing_id}", "saved")
        except UserError as exc:
            errors, status = [exc.message], exc.status_code
    return await _form(mailing, values, errors=errors, status_code=status)


class StaffMailController(Controller):
    """Staff only (see ROUTE_GROUPS in core.web.app)."""

    path = "/staff"
    include_in_schema = False

    @get("/mailings")
    async def mailings(self, status: FromQuery[str] = "", page: FromQuery[int] = 1) -> Template:
        status = status if status in MAILING_STATUSES else ""
        listing = await service.list_mailings(
            status=status or None, page=min(max(page, 1), PAGE_MAX), per_page=25
        )
        return Template(
            template_name="staff/mailings.html",
            context={
                "listing": listing,
                "sent": await sent_counts([m["id"] for m in listing["items"]]),
                "status": status,
                "statuses": MAILING_STATUSES,
            },
        )

    @get("/mailings/new")
    async def new(self) -> Template:
        return await _form(None, {})

    @post("/mailings/new", status_code=303)
    async def create(self, request: Request, data: Form) -> Template | Redirect:
        return await _submit(request, data, None)

    @get("/mailings/{mailing_id:int}")
    async def show(self, mailing_id: FromPath[int], done: FromQuery[str] = "") -> Template | Redirect:
        mailing = await _mailing(mailing_id)
        if mailing["status"] not in ("draft", "scheduled"):
            return _to(f"/staff/mailings/{mailing_id}/report", done)
        return await _form(mailing, form_values(mailing), notice=DONE.get(done, ""))

    @post("/mailings/{mailing_id:int}", status_code=303)
    async def save(self, request: Request, mailing_id: FromPath[int], data: Form) -> Template | Redirect:
        return await _submit(request, data, await _mailing(mailing_id))

    @post("/mailings/{mailing_id:int}/test", status_code=303)
    async def test(self, request: Request, mailing_id: FromPath[int]) -> Redirect:
        mailing = await _mailing(mailing_id)
        viewer = viewer_of(request)
        assert viewer is not None
        person = await preview_person(mailing["audience"], mailing["topic"])
        await service.send_test(mailing["id"], viewer.email, person["id"] if person else None)
        return _to(f"/staff/mailings/{mailing_id}", "tested")

    @get("/mailings/{mailing_id:int}/send")
    async def confirm(self, mailing_id: FromPath[int]) -> Template:
        mailing = await _mailing(mailing_id)
        count, described, problems = await _count(mailing["audience"], mailing["topic"])
        return Template(
            template_name="staff/mail_send.html",
            context={
                "mailing": mailing,
                "count": count,
                "described": described,
                "problems": _problems(mailing) + problems,
                "window": window_words(mailing["test_window_seconds"]),
            },
        )

    @post("/mailings/{mailing_id:int}/send", status_code=303)
    async def send(self, mailing_id: FromPath[int]) -> Redirect:
        mailing = await _mailing(mailing_id)
        await service.send_now(mailing["id"])
        return _to(
            f"/staff/mailings/{mailing_id}/report", "testing" if len(mailing["variants"]) > 1 else "sent"
        )

    @post("/mailings/{mailing_id:int}/schedule", status_code=303)
    async def schedule(self, mailing_id: FromPath[int], data: Form) -> Template | Redirect:
        mailing = await _mailing(mailing_id)
        try:
            await service.schedule(mailing["id"], read_send_time(data))
        except UserError as exc:
            values = {**form_values(mailing), "when": field(data, "when", max_length=40)}
            return await _form(mailing, values, schedule_errors=[exc.message], status_code=exc.status_code)
        return _to(f"/staff/mailings/{mailing_id}", "scheduled")

    @post("/mailings/{mailing_id:int}/cancel", status_code=303)
    async def cancel(self, mailing_id: FromPath[int]) -> Redirect:
        await service.cancel((await _mailing(mailing_id))["id"])
        return _to(f"/staff/mailings/{mailing_id}", "cancelled")

    @post("/mailings/{mailing_id:int}/halt", status_code=303)
    async def halt(self, request: Request, mailing_id: FromPath[int], data: Form) -> Redirect:
        mailing = await _mailing(mailing_id)
        viewer = viewer_of(request)
        reason = field(data, "reason", max_length=500) or f"Halted by {viewer.email if viewer else 'staff'}."
        await service.halt(mailing["id"], reason)
        return _to(f"/staff/mailings/{mailing_id}/report", "halted")

    @post("/mailings/{mailing_id:int}/resume", status_code=303)
    async def resume(self, mailing_id: FromPath[int]) -> Redirect:
        await service.resume((await _mailing(mailing_id))["id"])
        return _to(f"/staff/mailings/{mailing_id}/report", "resumed")

    @get("/mailings/{mailing_id:int}/report")
    async def report_page(self, mailing_id: FromPath[int], done: FromQuery[str] = "") -> Template:
        mailing = await _mailing(mailing_id)
        started = mailing["test_started_at"]
        return Template(
            template_name="staff/mail_report.html",
            context={
                "mailing": mailing,
                "report": await report.mailing_report(mailing["id"]),
                "described": mailing["audience_description"],
                "window": window_words(mailing["test_window_seconds"]),
                "closes_at": started + timedelta(seconds=mailing["test_window_seconds"]) if started else None,
                "done": DONE.get(done, ""),
            },
        )

    # -- saved audiences ---------------------------------------------------------------------

    @get("/audiences")
    async def audiences(self, done: FromQuery[str] = "") -> Template:
        return await _audiences_page({}, done=DONE.get(done, ""))

    @post("/audiences", status_code=303)
    async def save_audience(self, request: Request, data: Form) -> Template | Redirect:
        spec, errors = read_audience_form(data)
        status = 400
        if not errors:
            try:
                await saved_audiences.save_audience(
                    field(data, "audience_name", max_length=100), spec, author_login_id=_login_id(request)
                )
                return _to("/staff/audiences", "audience-saved")
            except UserError as exc:
                errors, status = [exc.message], exc.status_code
        return await _audiences_page(submitted_values(data), errors=errors, status_code=status)

    @post("/audiences/{audience_id:int}/delete", status_code=303)
    async def delete_audience(self, audience_id: FromPath[int]) -> Redirect:
        await saved_audiences.delete_saved(audience_id)
        return _to("/staff/audiences", "audience-deleted")


async def _audiences_page(
    values: dict[str, Any], *, errors: list[str] | None = None, done: str = "", status_code: int = 200
) -> Template:
    saved = await saved_audiences.list_saved()
    for row in saved:
        row["count"], row["described"], problems = await _count({"saved": row["id"]}, "campaigns")
        row["problem"] = problems[0] if problems else ""
    return Template(
        template_name="staff/audiences.html",
        context={
            **await _choices(),
            "saved": saved,
            "values": {**DEFAULTS, **values},
            "errors": errors or [],
            "done": done,
        },
        status_code=status_code,
    )
