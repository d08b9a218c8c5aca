"""Starting a petition: first the title (and similar petitions to sign instead), then the rest."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from core.accounts.logins import ensure_login
from core.errors import UserError
from core.groups.tables import Group
from core.instance_settings import get_policy
from core.petitions.directory import similar_petitions
from core.petitions.starting import Starter, dashboard_path, start_petition
from core.petitions.tables import SCOPES
from core.web.auth import viewer_of
from core.web.forms import Form, field
from core.web.petition_form import TARGET_ROWS, read_petition_form, submitted_values


async def _form_context(values: dict[str, Any], errors: list[str] | None = None) -> dict[str, Any]:
    groups = await Group.select(Group.id, Group.name).order_by(Group.name)
    return {
        "values": values,
        "errors": errors or [],
        "similar": await similar_petitions(values.get("title", "")),
        "groups": groups,
        "scopes": SCOPES,
        "target_rows": range(TARGET_ROWS),
        "policy_note": await get_policy("policy_note"),
    }


class StartPages(Controller):
    path = "/start"
    include_in_schema = False

    @get("/")
    async def form(self, title: FromQuery[str] = "") -> Template:
        return Template(
            template_name="petitions/start.html", context=await _form_context({"title": title.strip()[:150]})
        )

    @post("/", status_code=200)
    async def create(self, request: Request, data: Form) -> Template | Redirect:
        viewer = viewer_of(request)
        group_text = field(data, "group", max_length=12)
        parsed, errors = read_petition_form(
            data, TARGET_ROWS, int(group_text) if group_text.isdigit() else None
        )
        status = 400
        if parsed is not None:
            try:
                starter = (
                    Starter(person_id=viewer.person_id)
                    if viewer
                    else Starter(
                        name=field(data, "your_name", max_length=200),
                        email=field(data, "your_email", max_length=320),
                    )
                )
                petition, emailed = await start_petition(parsed, starter)
            except UserError as exc:
                errors, status = [exc.message], exc.status_code
            else:
                if not emailed:
                    assert viewer is not None
                    if not viewer.has_role("leader"):
                        await ensure_login(viewer.email, "leader")
                    return Redirect(path=dashboard_path(petition), status_code=303)
                return Template(
                    template_name="petitions/started.html",
                    context={"petition": petition, "email": starter.email},
                )
        return Template(
            template_name="petitions/start.html",
            context=await _form_context(submitted_values(data), errors),
            status_code=status,
        )
