"""Groups: an instance hosts several Councils, each with a page and leaders."""

from core.accounts.logins import login_for_email
from core.groups.service import create_group
from core.groups.tables import Group, GroupLeader
from tests.support.accounts import sign_in
from tests.support.forms import submit
from tests.support.petitions import published_petition


async def test_admins_create_groups_and_name_leaders(client):
    await sign_in(client, "admin@example.org", "admin")
    created = await submit(
        client, "/admin/groups/", "/admin/groups", {"name": "Riverside Council", "region": "North"}
    )
    assert created.status_code == 200
    group = await Group.objects().first()
    assert (group.slug, group.region) == ("riverside-council", "North")
    await submit(
        client, f"/admin/groups/{group.id}", f"/admin/groups/{group.id}/leaders", {"email": "lee@example.org"}
    )
    assert (await login_for_email("lee@example.org")).role == "leader"
    assert await GroupLeader.count() == 1


async def test_a_group_page_lists_its_petitions_and_leaders(client):
    group = await create_group("Riverside Council", description="Our town's Council.")
    await published_petition(group_id=group.id)
    await published_petition("A petition of another group entirely")
    page = await client.get("/g/riverside-council")
    assert "Our town" in page.text
    assert "Fix the Riverside footbridge now" in page.text
    assert "another group" not in page.text
    assert "Riverside Council" in (await client.get("/groups")).text


async def test_duplicate_and_bad_group_names_are_clear_errors(client):
    await sign_in(client, "admin@example.org", "admin")
    await create_group("Riverside Council")
    duplicate = await submit(client, "/admin/groups/", "/admin/groups", {"name": "Riverside Council"})
    assert duplicate.status_code == 409
    short = await submit(client, "/admin/groups/", "/admin/groups", {"name": "x"})
    assert short.status_code == 400
    assert (await client.get("/g/nope")).status_code == 404


async def test_only_admins_manage_groups(client):
    await sign_in(client, "staff@example.org", "staff")
    assert (await client.get("/admin/groups/")).status_code == 403
