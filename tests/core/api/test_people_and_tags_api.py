"""People, tags and taggings through the API: staff tokens only."""

import pytest

from core.people.signup import PersonInput, sign_up
from core.people.tables import Person, Tag, Tagging

API = "http://testserver.local/api/v1/"


async def _member(email="ann@example.org", **fields) -> int:
    result = await sign_up(
        PersonInput(
            email=email,
            given_name=fields.pop("given_name", "Ann"),
            family_name=fields.pop("family_name", "Lee"),
            **fields,
        )
    )
    return result.person_id


@pytest.mark.parametrize(
    "role, status", [(None, 401), ("member", 403), ("leader", 403), ("staff", 200), ("admin", 200)]
)
async def test_people_and_tags_need_a_staff_token(client, token, role, status):
    person_id = await _member()
    headers = await token(role) if role else {}
    for path in ("/api/v1/people", f"/api/v1/people/{person_id}", "/api/v1/tags"):
        response = await client.get(path, headers=headers)
        assert response.status_code == status, (path, response.text)
        if status != 200:
            assert "ann@example.org" not in response.text
            assert response.json()["message"]


async def test_a_person_in_osdi_shape(client, token):
    person_id = await _member(
        postal_code="ab1 2cd",
        locality="Riverside",
        country="gb",
        phone="+44 20 7946 0000",
        consent_instance_email=True,
    )
    body = (await client.get(f"/api/v1/people/{person_id}", headers=await token("staff"))).json()
    assert body["identifiers"] == [f"groundswell:{person_id}"]
    assert (body["given_name"], body["family_name"]) == ("Ann", "Lee")
    assert body["email_addresses"] == [
        {"primary": True, "address": "ann@example.org", "status": "subscribed"}
    ]
    assert body["postal_addresses"] == [
        {"primary": True, "locality": "Riverside", "postal_code": "AB1 2CD", "country": "GB"}
    ]
    assert body["phone_numbers"] == [{"primary": True, "number": "+44 20 7946 0000"}]
    assert body["consents"] == {
        "instance_email": True,
        "national_campaigns": False,
        "share_with_creators": False,
    }
    assert body["_links"]["self"]["href"] == f"{API}people/{person_id}"
    assert body["_links"]["osdi:taggings"]["href"] == f"{API}people/{person_id}/taggings"


async def test_people_page(client, token):
    for n in range(3):
        await _member(f"p{n}@example.org")
    staff = await token("staff")  # the staff login is a person too: 4 in all
    first = (await client.get("/api/v1/people?per_page=3", headers=staff)).json()
    assert (first["total_records"], first["total_pages"], len(first["_embedded"]["osdi:people"])) == (4, 2, 3)
    assert first["_links"]["next"]["href"] == f"{API}people?page=2&per_page=3"


async def test_staff_create_tags_and_tag_people_idempotently(client, token):
    person_id = await _member()
    staff = await token("staff")

    created = await client.post(
        "/api/v1/tags", json={"name": "volunteer", "description": "Helps out"}, headers=staff
    )
    assert created.status_code == 201
    tag = created.json()
    assert tag["name"] == "volunteer" and tag["description"] == "Helps out"
    taggings_url = tag["_links"]["osdi:taggings"]["href"]

    again = await client.post("/api/v1/tags", json={"name": "volunteer"}, headers=staff)
    assert again.status_code == 409
    assert "exists already" in again.json()["message"]

    link = {"_links": {"osdi:person": {"href": f"{API}people/{person_id}"}}, "item_type": "osdi:person"}
    tagged = await client.post(taggings_url, json=link, headers=staff)
    assert tagged.status_code == 201
    tagging = tagged.json()
    assert tagging["item_type"] == "osdi:person"
    assert tagging["_links"]["osdi:person"]["href"] == f"{API}people/{person_id}"
    assert tagging["_links"]["osdi:tag"]["href"] == tag["_links"]["self"]["href"]
    repeat = await client.post(taggings_url, json=link, headers=staff)
    assert repeat.status_code == 200 and repeat.json()["identifiers"] == tagging["identifiers"]
    assert await Tagging.count() == 1

    listed = (await client.get(taggings_url, headers=staff)).json()
    assert listed["total_records"] == 1
    by_person = (await client.get(f"/api/v1/people/{person_id}/taggings", headers=staff)).json()
    assert by_person["_embedded"]["osdi:taggings"][0]["identifiers"] == tagging["identifiers"]

    removed = await client.delete(tagging["_links"]["self"]["href"], headers=staff)
    assert removed.status_code == 200 and "deleted" in removed.json()["notice"]
    assert (await client.get(tagging["_links"]["self"]["href"], headers=staff)).status_code == 404
    assert await Tagging.count() == 0


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "_links: this field is required"),
        ({"_links": {"osdi:person": {"href": 7}}}, "_links[...].href: expected text"),
        (
            {"_links": {"osdi:person": {"href": "https://elsewhere.example/api/v1/people/1"}}},
            "on this server",
        ),
        ({"_links": {"osdi:person": {"href": f"{API}people/987654"}}}, "does not exist"),
        ({"_links": {"osdi:event": {"href": f"{API}events/1"}}, "item_type": "osdi:event"}, "only people"),
    ],
)
async def test_bad_taggings_are_400_and_store_nothing(client, token, body, message):
    staff = await token("staff")
    tag = (await client.post("/api/v1/tags", json={"name": "donor"}, headers=staff)).json()
    response = await client.post(tag["_links"]["osdi:taggings"]["href"], json=body, headers=staff)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert await Tagging.count() == 0


@pytest.mark.parametrize(
    "body, message",
    [
        ({"name": 5}, "name: expected text, got a whole number"),
        ({"description": "x"}, "name: this field is required"),
        ({"name": "   "}, "Give the tag a name"),
        ({"name": "x" * 101}, "under 100 characters"),
        ({"name": "ok", "description": "d" * 301}, "under 300 characters"),
    ],
)
async def test_bad_tags_are_400_and_store_nothing(client, token, body, message):
    response = await client.post("/api/v1/tags", json=body, headers=await token("staff"))
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert await Tag.count() == 0


async def test_taggings_of_unknown_tags_or_people_are_404(client, token):
    staff = await token("staff")
    assert (await client.get("/api/v1/tags/999/taggings", headers=staff)).status_code == 404
    assert (await client.get("/api/v1/people/999/taggings", headers=staff)).status_code == 404
    tag = (await client.post("/api/v1/tags", json={"name": "donor"}, headers=staff)).json()
    assert (await client.get(f"{tag['_links']['osdi:taggings']['href']}/5", headers=staff)).status_code == 404
    assert (
        await client.delete(f"{tag['_links']['osdi:taggings']['href']}/5", headers=staff)
    ).status_code == 404
    assert await Person.count() == 1
