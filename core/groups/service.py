"""Groups (Councils, state groups): creating them and naming their leaders."""

from __future__ import annotations

from core.accounts.logins import ensure_login
from core.errors import Conflict, NotFound, UserError
from core.groups.tables import Group, GroupLeader
from core.petitions.service import slugify
from core.plugins.events import emit


async def create_group(name: str, *, description: str = "", region: str = "") -> Group:
    name = " ".join(name.split())
    if not 3 <= len(name) <= 200:
        raise UserError("A group's name has 3 to 200 characters.")
    if len(description) > 5000 or len(region) > 100:
        raise UserError("Keep the description under 5,000 characters and the region under 100.")
    slug = slugify(name)
    if await Group.exists().where(Group.slug == slug):
        raise Conflict(f"There is already a group called {name!r}.")
    from core.outbox import transaction

    async with transaction():
        rows = await Group.insert(
            Group(slug=slug, name=name, description=description.strip(), region=region.strip())
        ).returning(Group.id)
        await emit(
            "group.created", str(rows[0]["id"]), {"group_id": rows[0]["id"], "slug": slug, "name": name}
        )
    return await get_group(rows[0]["id"])


async def get_group(group_id: int) -> Group:
    group = await Group.objects().where(Group.id == group_id).first()
    if group is None:
        raise NotFound("There is no such group.")
    return group


async def get_group_by_slug(slug: str) -> Group:
    group = await Group.objects().where(Group.slug == slug[:80]).first()
    if group is None:
        raise NotFound("There is no group at this address.")
    return group


async def add_leader(group_id: int, email: str) -> None:
    """Make the person with this email a leader of the group (and at least a leader)."""
    await get_group(group_id)
    login = await ensure_login(email, "leader")
    await GroupLeader.insert(GroupLeader(group=group_id, login=login.id)).on_conflict(
        target=(GroupLeader.group, GroupLeader.login), action="DO NOTHING"
    )


async def remove_leader(group_id: int, login_id: int) -> None:
    await GroupLeader.delete().where((GroupLeader.group == group_id) & (GroupLeader.login == login_id))


async def leaders_of(group_id: int) -> list[dict]:
    return await GroupLeader.select(
        GroupLeader.login.id.as_alias("login_id"),
        GroupLeader.login.person.given_name.as_alias("given_name"),
        GroupLeader.login.person.family_name.as_alias("family_name"),
        GroupLeader.login.person.email.as_alias("email"),
    ).where(GroupLeader.group == group_id)


async def all_groups() -> list[dict]:
    return await Group.select(Group.id, Group.slug, Group.name, Group.region, Group.description).order_by(
        Group.name
    )
