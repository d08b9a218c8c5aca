"""The API entry point, HAL conventions shared by every resource, errors, and the OpenAPI schema."""

from tests.support.petitions import published_petition

API = "http://testserver.local/api/v1/"


async def test_the_entry_point_links_every_resource_with_osdi_curies(client, token):
    response = await client.get("/api/v1/", headers=await token("member"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hal+json")
    links = response.json()["_links"]
    assert links["self"]["href"] == API
    assert links["curies"][0]["name"] == "osdi" and links["curies"][0]["templated"] is True
    assert links["osdi:people"]["href"] == API + "people"
    assert links["osdi:petitions"]["href"] == API + "petitions"
    assert links["osdi:tags"]["href"] == API + "tags"
    assert links["osdi:person_signup_helper"]["href"] == API + "people/person_signup_helper"
    assert response.json()["max_pagesize"] == 100


async def test_every_linked_collection_answers_a_staff_token(client, token):
    staff = await token("staff")
    links = (await client.get("/api/v1/", headers=staff)).json()["_links"]
    for rel in ("osdi:people", "osdi:petitions", "osdi:tags"):
        response = await client.get(links[rel]["href"], headers=staff)
        assert response.status_code == 200, (rel, response.text)
        assert "total_records" in response.json()


async def test_the_openapi_schema_lists_the_api_paths(client):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = set(schema["paths"])
    for path in (
        "/api/v1/petitions",
        "/api/v1/petitions/{petition_id}",
        "/api/v1/petitions/{petition_id}/signatures",
        "/api/v1/petitions/{petition_id}/signatures/{signature_id}",
        "/api/v1/petitions/{petition_id}/record_signature_helper",
        "/api/v1/people",
        "/api/v1/people/{person_id}",
        "/api/v1/people/person_signup_helper",
        "/api/v1/tags",
        "/api/v1/tags/{tag_id}/taggings",
    ):
        assert path in paths, path
    creating = schema["paths"]["/api/v1/petitions"]["post"]
    body_schema = creating["requestBody"]["content"]["application/json"]["schema"]
    assert "PetitionBody" in str(body_schema), "the request body's shape is documented"


async def test_unknown_addresses_and_ids_are_404_json(client, token):
    staff = await token("staff")
    for path in (
        "/api/v1/nothing-here",
        "/api/v1/petitions/999999",
        "/api/v1/petitions/99999999999999999999",
        "/api/v1/people/424242",
        "/api/v1/tags/77",
        "/api/v1/petitions/abc",
    ):
        response = await client.get(path, headers=staff)
        assert response.status_code == 404, path
        body = response.json()
        assert body["message"] and body["request_type"] == "GET", path


async def test_a_method_the_resource_does_not_have_is_405_json(client, token):
    petition = await published_petition()
    response = await client.delete(f"/api/v1/petitions/{petition.id}", headers=await token("staff"))
    assert response.status_code == 405
    assert "DELETE" in response.json()["message"]


async def test_without_a_token_only_the_helpers_answer(client):
    petition = await published_petition()
    for path in ("/api/v1/", "/api/v1/petitions", f"/api/v1/petitions/{petition.id}", "/api/v1/people"):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert "OSDI-API-Token" in response.json()["message"]
