"""Group pages (public) and group administration (admin)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from core.groups.service import (
    GroupInput,
    add_leader,
    all_groups,
    create_group,
    get_group,
    get_group_by_slug,
    leaders_of,
    remove_leader,
    update_group,
)
from core.groups.tables import GROUP_KINDS
from core.petitions.directory import DirectoryQuery, search
from core.web.forms import Form, field


class GroupPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/groups")
    async def index(self) -> Template:
        return Template(
            template_name="groups/index.html", context={"groups": await all_groups(listed_only=True)}
        )

    @get("/g/{slug:str}")
    async def show(self, slug: FromPath[str]) -> Template:
        group = await get_group_by_slug(slug)
        petitions = await search(DirectoryQuery(group_id=group.id, state="all"))
        leaders = await leaders_of(group.id)
        return Template(
            template_name="groups/show.html",
            context={
                "group": group,
                "petitions": petitions.petitions,
                "leaders": [f"{r['given_name']} {r['family_name']}".strip() for r in leaders],
            },
        )


class GroupAdmin(Controller):
    path = "/admin/groups"
    include_in_schema = False

    @get("/")
    async def index(self) -> Template:
        return Template(
            template_name="admin/groups.html", context={"groups": await all_groups(), "kinds": GROUP_KINDS}
        )

    @post("/", status_code=303)
    async def create(self, data: Form) -> Redirect:
        values = _group_input(data)
        group = await create_group(
            values.name,
            description=values.description,
            region=values.region,
            kind=values.kind,
            listed=values.listed,
        )
        return Redirect(path=f"/admin/groups/{group.id}", status_code=303)

    @get("/{group_id:int}")
    async def show(self, group_id: FromPath[int]) -> Template:
        group = await get_group(group_id)
        return Template(
            template_name="admin/group.html",
            context={"group": group, "leaders": await leaders_of(group_id), "kinds": GROUP_KINDS},
        )

    @post("/{group_id:int}", status_code=303)
    async def edit(self, group_id: FromPath[int], data: Form) -> Redirect:
        await update_group(group_id, _group_input(data))
        return Redirect(path=f"/admin/groups/{group_id}", status_code=303)

    @post("/{group_id:int}/leaders", status_code=303)
    async def add(self, group_id: FromPath[int], data: Form) -> Redirect:
        await add_leader(group_id, field(data, "email", max_length=320))
        return Redirect(path=f"/admin/groups/{group_id}", status_code=303)

    @post("/{group_id:int}/leaders/{login_id:int}/remove", status_code=303)
    async def remove(self, group_id: FromPath[int], login_id: FromPath[int]) -> Redirect:
        await remove_leader(group_id, login_id)
        return Redirect(path=f"/admin/groups/{group_id}", status_code=303)


def _group_input(data: dict) -> GroupInput:
    """The group form; a form without the kind field (an older page) means a Council, and an
    unticked "listed" box is absent from the form, so it means unlisted."""
    return GroupInput(
        name=field(data, "name", max_length=200),
        description=field(data, "description", max_length=5000),
        region=field(data, "region", max_length=100),
        kind=field(data, "kind", max_length=12) or "council",
        listed=bool(field(data, "listed", max_length=5)),
    )
