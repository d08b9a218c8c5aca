"""Groups are edited, listed and unlisted by admins, each change a new version announced as
`group.updated` and as the group's public listing; core numbers listing versions itself, so
announcing an unchanged listing is free and versions only grow."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.groups.service import GroupInput, create_group, update_group
from core.groups.tables import Group
from core.listings.service import announce_listing, current_listings
from core.listings.tables import PublicListing
from tests.support.accounts import sign_in
from tests.support.forms import submit


async def test_core_numbers_versions_and_ignores_announcements_that_change_nothing(client):
    assert await announce_listing("thing", 5, listed=False, fields={"name": "never listed"}) is None
    assert await announce_listing("thing", 5, listed=True, fields={"name": "Kite day"}) == 1
    assert await announce_listing("thing", 5, listed=True, fields={"name": "Kite day"}) is None
    assert await announce_listing("thing", 5, listed=True, fields={"name": "Kite festival"}) == 2
    assert await announce_listing("thing", 5, listed=False) == 3
    assert await announce_listing("thing", 5, listed=False, fields={"name": "Kite fest"}) is None
    (row,) = await PublicListing.objects().where(PublicListing.kind == "thing")
    assert (row.version, row.listed, row.fields) == (3, False, '{"name": "Kite festival"}')
    assert await current_listings("thing") == []
    assert [x.version for x in await current_listings("thing", listed_only=False)] == [3]


async def test_a_malformed_announcement_is_a_clear_error_for_the_plugin_author(client):
    for kind, local_id, fields, words in (
        ("Event", 1, {}, "listing kind"),
        ("event", "a b", {}, "listing id"),
        ("event", 1, {"when": object()}, "JSON values"),
    ):
        with pytest.raises(ValueError, match=words):
            await announce_listing(kind, local_id, listed=True, fields=fields)


async def test_admins_rename_and_unlist_a_group_which_keeps_its_address(client):
    await sign_in(client, "admin@example.org", "admin")
    group = await create_group("Riverside Council", region="North")
    edited = await submit(
        client,
        f"/admin/groups/{group.id}",
        f"/admin/groups/{group.id}",
        {"name": "Riverside Footbridge Council", "kind": "state", "region": "North", "description": "Hi."},
    )
    assert edited.status_code == 200
    row = await Group.objects().where(Group.id == group.id).first()
    assert (row.name, row.kind, row.slug, row.listed, row.version) == (
        "Riverside Footbridge Council",
        "state",
        "riverside-council",
        False,  # the "listed" box was not ticked
        2,
    )
    assert "Riverside Footbridge Council" not in (await client.get("/groups")).text
    assert "Riverside Footbridge Council" in (await client.get("/g/riverside-council")).text
    (listing,) = await current_listings("group", listed_only=False)
    assert (listing.version, listing.listed, listing.fields["kind"]) == (2, False, "state")


async def test_bad_group_edits_are_400s_and_a_taken_name_a_409(client):
    await create_group("Lakeside Council")
    group = await create_group("Riverside Council")
    for data, words in (
        (GroupInput("x"), "3 to 200"),
        (GroupInput("Riverside Council", kind="club"), "kind"),
    ):
        with pytest.raises(UserError, match=words):
            await update_group(group.id, data)
    await sign_in(client, "admin@example.org", "admin")
    taken = await submit(
        client,
        f"/admin/groups/{group.id}",
        f"/admin/groups/{group.id}",
        {"name": "Lakeside Council", "listed": "1"},
    )
    assert taken.status_code == 409
    assert (await Group.objects().where(Group.id == group.id).first()).version == 1
