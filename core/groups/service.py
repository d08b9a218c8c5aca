"""Groups (Councils, state groups): creating and editing them, and naming their leaders.

Every change a group's public listing shows (name, kind, description, region, whether it is
listed) raises its `version` and is announced, in the same transaction, as a `group.*` core
event and as the group's public listing (`core.listings`), which is how the federation
plugin tells a hub about it without core knowing federation exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.accounts.logins import ensure_login
from core.accounts.roles import Viewer
from core.errors import Conflict, NotFound, UserError
from core.groups.tables import GROUP_KINDS, Group, GroupLeader
from core.listings.service import announce_listing
from core.outbox import transaction
from core.petitions.service import slugify
from core.plugins.events import emit
from core.settings import current_settings


@dataclass(frozen=True)
class GroupInput:
    """What an admin sets on a group (the slug is made once, from the first name)."""

    name: str
    description: str = ""
    region: str = ""
    kind: str = "council"
    listed: bool = True


def _clean(data: GroupInput) -> GroupInput:
    name = " ".join(data.name.split())
    if not 3 <= len(name) <= 200:
        raise UserError("A group's name has 3 to 200 characters.")
    if len(data.description) > 5000 or len(data.region) > 100:
        raise UserError("Keep the description under 5,000 characters and the region under 100.")
    if data.kind not in GROUP_KINDS:
        raise UserError(f"A group's kind is one of: {', '.join(GROUP_KINDS)}.")
    return GroupInput(name, data.description.strip(), " ".join(data.region.split()), data.kind, data.listed)


def group_url(slug: str) -> str:
    return f"{current_settings().public_url}/g/{slug}"


async def _announce(group_id: int) -> None:
    """The group's public listing as it is now (inside the caller's transaction)."""
    group = await get_group(group_id)
    await announce_listing(
        "group",
        group.id,
        listed=group.listed,
        fields={
            "name": group.name,
            "slug": group.slug,
            "kind": group.kind,
            "description": group.description,
            "region": group.region,
            "url": group_url(group.slug),
        },
    )


async def create_group(
    name: str, *, description: str = "", region: str = "", kind: str = "council", listed: bool = True
) -> Group:
    data = _clean(GroupInput(name, description, region, kind, listed))
    slug = slugify(data.name)
    if await Group.exists().where(Group.slug == slug):
        raise Conflict(f"There is already a group called {data.name!r}.")
    async with transaction():
        rows = await Group.insert(
            Group(
                slug=slug,
                name=data.name,
                description=data.description,
                region=data.region,
                kind=data.kind,
                listed=data.listed,
                version=1,
            )
        ).returning(Group.id)
        group_id = rows[0]["id"]
        await emit(
            "group.created",
            str(group_id),
            {"group_id": group_id, "slug": slug, "name": data.name, "version": 1},
        )
        await _announce(group_id)
    return await get_group(group_id)


async def update_group(group_id: int, data: GroupInput) -> Group:
    """Rename, describe, re-kind, list or unlist a group. Its address (slug) stays, so links
    to it keep working; a change of nothing is not a new version."""
    data = _clean(data)
    async with transaction():
        group = await get_group(group_id)
        if (group.name, group.description, group.region, group.kind, group.listed) == (
            data.name,
            data.description,
            data.region,
            data.kind,
            data.listed,
        ):
            return group
        if data.name != group.name and await Group.exists().where(
            (Group.name == data.name) & (Group.id != group_id)
        ):
            raise Conflict(f"There is already a group called {data.name!r}.")
        rows = await (
            Group.update(
                {
                    Group.name: data.name,
                    Group.description: data.description,
                    Group.region: data.region,
                    Group.kind: data.kind,
                    Group.listed: data.listed,
                    Group.version: Group.version + 1,
                }
            )
            .where(Group.id == group_id)
            .returning(Group.version)
        )
        await emit(
            "group.updated",
            f"{group_id}:{rows[0]['version']}",
            {
                "group_id": group_id,
                "slug": group.slug,
                "name": data.name,
                "version": rows[0]["version"],
                "listed": data.listed,
            },
        )
        await _announce(group_id)
    return await get_group(group_id)


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


async def leads_group(viewer: Viewer, group_id: int | None) -> bool:
    """Whether `viewer` may act for this group: staff for every group, a leader only for the
    groups an admin named them leader of. The role is checked too, so a leader demoted to
    member loses the right at once even though the group still lists them."""
    if viewer.has_role("staff"):
        return True
    if group_id is None or not viewer.has_role("leader"):
        return False
    return await GroupLeader.exists().where(
        (GroupLeader.group == group_id) & (GroupLeader.login == viewer.login_id)
    )


async def leaders_of(group_id: int) -> list[dict]:
    return await GroupLeader.select(
        GroupLeader.login.id.as_alias("login_id"),
        GroupLeader.login.person.given_name.as_alias("given_name"),
        GroupLeader.login.person.family_name.as_alias("family_name"),
        GroupLeader.login.person.email.as_alias("email"),
    ).where(GroupLeader.group == group_id)


async def all_groups(*, listed_only: bool = False) -> list[dict]:
    """Groups by name: every group (for staff), or only listed ones (the public list)."""
    query = Group.select(
        Group.id, Group.slug, Group.name, Group.kind, Group.region, Group.description, Group.listed
    ).order_by(Group.name)
    if listed_only:
        query = query.where(Group.listed == True)  # noqa: E712  (a column expression)
    return await query
