"""Petitions through the API: reading with any token, paging, starting and changing them."""

import pytest

from core.instance_settings import set_policy
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Petition, PetitionTarget
from tests.support.petitions import published_petition

API = "http://testserver.local/api/v1/"

NEW_PETITION = {
    "title": "Light the canal towpath at night",
    "petition_text": "The towpath is dark after 6pm all winter. "
    "Install lights so people can walk home safely.",
    "summary": "Lights for the towpath",
    "target": [{"name": "Canal Trust", "title": "Board of trustees"}],
    "goal": 500,
    "origin_system": "Some other tool",
}


async def test_a_petition_shows_its_osdi_fields_and_total_signatures(client, token):
    petition = await published_petition()
    await sign(petition.id, SignatureInput(name="Ann Lee", email="ann@example.org"))
    await sign(petition.id, SignatureInput(name="Bo Chen", email="bo@example.org"))

    response = await client.get(f"/api/v1/petitions/{petition.id}", headers=await token("member"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hal+json")
    body = response.json()
    assert body["identifiers"] == [f"groundswell:{petition.id}"]
    assert body["origin_system"] == "Groundswell"
    assert body["created_date"].endswith("Z") and body["modified_date"].endswith("Z")
    assert body["title"] == "Fix the Riverside footbridge now"
    assert body["total_signatures"] == 2
    assert body["target"] == [{"name": "Jane Mayor", "title": "Mayor of Riverside"}]
    assert body["browser_url"] == f"http://testserver.local/p/{petition.slug}"
    assert "<p>" in body["description"] and "<p>" not in body["petition_text"]
    links = body["_links"]
    assert links["self"]["href"] == f"{API}petitions/{petition.id}"
    assert links["osdi:signatures"]["href"] == f"{API}petitions/{petition.id}/signatures"
    assert links["osdi:record_signature_helper"]["href"].endswith(f"/{petition.id}/record_signature_helper")


async def test_the_collection_pages_with_links_and_totals(client, token):
    for n in range(5):
        await published_petition(f"Petition number {n} for the paging test")
    member = await token("member")

    first = (await client.get("/api/v1/petitions?per_page=2", headers=member)).json()
    assert (first["page"], first["per_page"], first["total_records"], first["total_pages"]) == (1, 2, 5, 3)
    assert len(first["_embedded"]["osdi:petitions"]) == 2
    assert [link["href"] for link in first["_links"]["osdi:petitions"]] == [
        p["_links"]["self"]["href"] for p in first["_embedded"]["osdi:petitions"]
    ]
    assert "prev" not in first["_links"]
    assert first["_links"]["self"]["href"] == f"{API}petitions?page=1&per_page=2"

    second = (await client.get(first["_links"]["next"]["href"], headers=member)).json()
    assert second["page"] == 2
    assert second["_links"]["prev"]["href"] == f"{API}petitions?page=1&per_page=2"
    last = (await client.get(second["_links"]["next"]["href"], headers=member)).json()
    assert len(last["_embedded"]["osdi:petitions"]) == 1 and "next" not in last["_links"]

    seen = [p["title"] for page in (first, second, last) for p in page["_embedded"]["osdi:petitions"]]
    assert len(set(seen)) == 5, "every petition appears exactly once across the pages"


async def test_paging_defaults_caps_and_out_of_range_pages(client, token):
    await published_petition()
    member = await token("member")
    default = (await client.get("/api/v1/petitions", headers=member)).json()
    assert default["per_page"] == 25
    capped = (await client.get("/api/v1/petitions?per_page=1000", headers=member)).json()
    assert capped["per_page"] == 100
    beyond = await client.get("/api/v1/petitions?page=999999999999", headers=member)
    assert beyond.status_code == 200
    assert beyond.json()["_embedded"]["osdi:petitions"] == []
    assert beyond.json()["total_records"] == 1


@pytest.mark.parametrize(
    "query, word",
    [("page=0", "page"), ("per_page=0", "per_page"), ("page=abc", "page"), ("per_page=lots", "per_page")],
)
async def test_bad_paging_parameters_are_400_naming_the_parameter(client, token, query, word):
    response = await client.get(f"/api/v1/petitions?{query}", headers=await token("member"))
    assert response.status_code == 400
    assert word in str(response.json())


async def test_members_see_public_petitions_and_their_own_drafts_only(client, token):
    await set_policy("moderation", "pre")
    public = await published_petition()
    mine = await client.post(
        "/api/v1/petitions", json=NEW_PETITION, headers=await token("member", "me@x.org")
    )
    assert mine.json()["status"] == "pending"
    other = await token("member", "other@x.org")

    listed = (await client.get("/api/v1/petitions", headers=other)).json()
    assert [p["title"] for p in listed["_embedded"]["osdi:petitions"]] == [public.title]
    hidden = await client.get(mine.json()["_links"]["self"]["href"], headers=other)
    assert hidden.status_code == 404

    own = await client.get(mine.json()["_links"]["self"]["href"], headers=await token("member", "me@x.org"))
    assert own.status_code == 200
    staff_list = (await client.get("/api/v1/petitions", headers=await token("staff"))).json()
    assert staff_list["total_records"] == 2


async def test_a_member_token_starts_a_petition_under_the_moderation_policy(client, token):
    await set_policy("moderation", "pre")
    response = await client.post("/api/v1/petitions", json=NEW_PETITION, headers=await token("member"))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert body["goal"] == 500 and body["total_signatures"] == 0
    assert body["target"] == [{"name": "Canal Trust", "title": "Board of trustees"}]
    assert body["_links"]["osdi:creator"]["href"].startswith(f"{API}people/")


async def test_under_post_moderation_a_member_petition_is_published_at_once(client, token):
    await set_policy("moderation", "post")
    response = await client.post("/api/v1/petitions", json=NEW_PETITION, headers=await token("member"))
    assert response.json()["status"] == "published"


@pytest.mark.parametrize("role", ["staff", "admin"])
async def test_staff_and_admin_tokens_publish_at_once_even_under_pre_moderation(client, token, role):
    await set_policy("moderation", "pre")
    response = await client.post("/api/v1/petitions/", json=NEW_PETITION, headers=await token(role))
    assert response.status_code == 201
    assert response.json()["status"] == "published"
    assert response.json()["published_date"]


async def test_description_is_accepted_as_the_text_when_petition_text_is_absent(client, token):
    data = {k: v for k, v in NEW_PETITION.items() if k != "petition_text"}
    data["description"] = "A description long enough to stand as the petition's whole text."
    response = await client.post("/api/v1/petitions", json=data, headers=await token("staff"))
    assert response.status_code == 201
    assert response.json()["petition_text"] == data["description"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"title": 5}, "title: expected text, got a whole number"),
        ({"goal": "1000"}, "goal: expected a whole number, got text"),
        ({"goal": 1.5}, "goal: expected a whole number"),
        ({"target": "The Mayor"}, "target: expected a list, got text"),
        ({"target": [{"title": "Mayor"}]}, "target[0].name: this field is required"),
        ({"target": [{"name": ["x"]}]}, "target[0].name: expected text, got a list"),
        ({"scope": "national"}, "scope: expected an object, got text"),
        ({"title": "Short"}, "title of at least 10 characters"),
        ({"target": []}, "at least one target"),
        ({"scope": {"kind": "galaxy"}}, "Scope must be one of"),
        ({"goal": 0}, "goal between"),
    ],
)
async def test_wrong_types_and_values_are_400_naming_the_field_and_store_nothing(
    client, token, change, message
):
    response = await client.post("/api/v1/petitions", json={**NEW_PETITION, **change}, headers=await token())
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert await Petition.count() == 0
    assert await PetitionTarget.count() == 0


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "it was empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "Send a JSON object as the request body; got a list"),
        (b'"a string"', "Send a JSON object"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400(client, token, raw, message):
    response = await client.post(
        "/api/v1/petitions",
        content=raw,
        headers={**await token(), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert message in response.json()["message"]


async def test_the_creator_changes_their_petition_and_others_may_not(client, token):
    creator = await token("member", "creator@x.org")
    created = (await client.post("/api/v1/petitions", json=NEW_PETITION, headers=creator)).json()
    url = created["_links"]["self"]["href"]

    changed = await client.put(url, json={"title": "Light the whole canal towpath at night"}, headers=creator)
    assert changed.status_code == 200
    assert changed.json()["title"] == "Light the whole canal towpath at night"
    assert changed.json()["petition_text"] == NEW_PETITION["petition_text"], "fields left out are kept"
    assert changed.json()["target"] == created["target"]

    refused = await client.put(url, json={"title": "Someone else's better title"}, headers=await token())
    assert refused.status_code == 403
    assert "creator or staff" in refused.json()["message"]

    by_staff = await client.put(
        url, json={"target": [{"name": "City Council"}]}, headers=await token("staff")
    )
    assert by_staff.json()["target"] == [{"name": "City Council", "title": ""}]


async def test_changing_with_a_wrong_type_changes_nothing(client, token):
    petition = await published_petition()
    staff = await token("staff")
    response = await client.put(
        f"/api/v1/petitions/{petition.id}",
        json={"title": "A perfectly fine new title", "goal": "x"},
        headers=staff,
    )
    assert response.status_code == 400
    assert (await Petition.objects().first()).title == petition.title
