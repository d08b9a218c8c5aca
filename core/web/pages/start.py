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
from core.petitions.service import PetitionInput, TargetInput
from core.petitions.starting import Starter, dashboard_path, start_petition
from core.petitions.tables import SCOPES
from core.web.auth import viewer_of
from core.web.forms import Form, field

TARGET_ROWS = 3


async def _form_context(values: dict[str, Any], error: str = "") -> dict[str, Any]:
    groups = await Group.select(Group.id, Group.name).order_by(Group.name)
    return {
        "values": values,
        "error": error,
        "similar": await similar_petitions(values.get("title", "")),
        "groups": groups,
        "scopes": SCOPES,
        "target_rows": range(TARGET_ROWS),
        "policy_note": await get_policy("policy_note"),
    }


def _petition_input(data: dict[str, Any]) -> PetitionInput:
    targets = [
        TargetInput(
            name=field(data, f"target_name_{i}", max_length=200),
            title=field(data, f"target_title_{i}", max_length=200),
            phone=field(data, f"target_phone_{i}", max_length=40),
            email=field(data, f"target_email_{i}", max_length=320),
        )
        for i in range(TARGET_ROWS)
    ]
    goal_text = field(data, "goal", max_length=12) or "1000"
    if not goal_text.isdigit():
        raise UserError("The goal is a number of signatures, like 1000.")
    group_text = field(data, "group", max_length=12)
    return PetitionInput(
        title=field(data, "title", max_length=300),
        summary=field(data, "summary", max_length=300),
        body=field(data, "body", max_length=20_000),
        targets=targets,
        goal=int(goal_text),
        scope_kind=field(data, "scope_kind", max_length=12) or "national",
        scope_value=field(data, "scope_value", max_length=100),
        group_id=int(group_text) if group_text.isdigit() else None,
    )


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
        values = {k: (v[-1] if isinstance(v, list) else v) for k, v in data.items() if k != "_csrf_token"}
        try:
            starter = (
                Starter(person_id=viewer.person_id)
                if viewer
                else Starter(
                    name=field(data, "your_name", max_length=200),
                    email=field(data, "your_email", max_length=320),
                )
            )
            petition, emailed = await start_petition(_petition_input(data), starter)
        except UserError as exc:
            context = await _form_context(values, error=exc.message)
            return Template(
                template_name="petitions/start.html", context=context, status_code=exc.status_code
            )
        if not emailed:
            assert viewer is not None
            if not viewer.has_role("leader"):
                await ensure_login(viewer.email, "leader")
            return Redirect(path=dashboard_path(petition), status_code=303)
        return Template(
            template_name="petitions/started.html", context={"petition": petition, "email": starter.email}
        )
