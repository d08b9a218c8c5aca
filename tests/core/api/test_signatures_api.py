"""A petition's signatures through the API: staff see all, the creator sees what signers shared."""

from core.accounts.logins import ensure_login
from core.petitions.signing import SignatureInput, sign
from tests.support.petitions import published_petition

API = "http://testserver.local/api/v1/"


async def _petition_with_signers(creator_email: str | None = None):
    creator_id = None
    if creator_email:
        creator_id = (await ensure_login(creator_email, "member")).person
    petition = await published_petition()
    if creator_id:
        from core.petitions.tables import Petition

        await Petition.update({Petition.creator: creator_id}).where(Petition.id == petition.id)
    shared = await sign(
        petition.id,
        SignatureInput(
            name="Ann Lee",
            email="ann@example.org",
            postal_code="ab1 2cd",
            comment="Please!",
            source="mail-7",
            share_with_creator=True,
        ),
    )
    private = await sign(petition.id, SignatureInput(name="Bo Chen", email="bo@example.org"))
    held = await sign(petition.id, SignatureInput(name="Cy Bot", email="cy@example.org"), held=True)
    return petition, shared, private, held


async def test_staff_read_every_signature_with_a_link_to_the_signer(client, token):
    petition, shared, _private, _held = await _petition_with_signers()
    response = await client.get(f"/api/v1/petitions/{petition.id}/signatures", headers=await token("staff"))
    assert response.status_code == 200
    body = response.json()
    assert body["total_records"] == 3
    signatures = body["_embedded"]["osdi:signatures"]
    first = signatures[0]
    assert first["identifiers"] == [f"groundswell:{shared.signature_id}"]
    assert first["comments"] == "Please!"
    assert first["referrer_data"] == {"source": "mail-7"}
    assert first["action_date"].endswith("Z")
    assert first["_links"]["self"]["href"] == f"{API}petitions/{petition.id}/signatures/{shared.signature_id}"
    assert first["_links"]["osdi:petition"]["href"] == f"{API}petitions/{petition.id}"
    assert first["_links"]["osdi:person"]["href"] == f"{API}people/{shared.person_id}"
    assert {s["status"] for s in signatures} == {"counted", "held"}

    one = await client.get(first["_links"]["self"]["href"], headers=await token("staff"))
    assert one.json()["identifiers"] == first["identifiers"]


async def test_the_creator_sees_counted_signatures_and_only_shared_details(client, token):
    petition, shared, private, held = await _petition_with_signers("creator@example.org")
    creator = await token("member", "creator@example.org")
    body = (await client.get(f"/api/v1/petitions/{petition.id}/signatures", headers=creator)).json()
    assert body["total_records"] == 2, "held signatures are for staff"
    by_id = {s["identifiers"][0]: s for s in body["_embedded"]["osdi:signatures"]}
    with_consent = by_id[f"groundswell:{shared.signature_id}"]
    without = by_id[f"groundswell:{private.signature_id}"]

    person = with_consent["_embedded"]["osdi:person"]
    assert person["given_name"] == "Ann" and person["family_name"] == "Lee"
    assert person["email_addresses"] == [{"primary": True, "address": "ann@example.org"}]
    assert person["postal_addresses"] == [{"primary": True, "postal_code": "AB1 2CD"}]
    assert "osdi:person" not in with_consent["_links"], "reading people is for staff"
    assert "_embedded" not in without and "osdi:person" not in without["_links"]
    assert "bo@example.org" not in str(body)

    hidden = await client.get(
        f"/api/v1/petitions/{petition.id}/signatures/{held.signature_id}", headers=creator
    )
    assert hidden.status_code == 404


async def test_other_members_may_not_read_signatures(client, token):
    petition, *_ = await _petition_with_signers("creator@example.org")
    response = await client.get(f"/api/v1/petitions/{petition.id}/signatures", headers=await token("leader"))
    assert response.status_code == 403
    assert "creator or staff" in response.json()["message"]
    assert "ann@example.org" not in response.text


async def test_signatures_page_like_every_collection(client, token):
    petition = await published_petition()
    for n in range(3):
        await sign(petition.id, SignatureInput(name=f"Signer {n}", email=f"s{n}@example.org"))
    staff = await token("staff")
    page = (
        await client.get(f"/api/v1/petitions/{petition.id}/signatures?per_page=2&page=2", headers=staff)
    ).json()
    assert (page["page"], page["total_pages"], page["total_records"]) == (2, 2, 3)
    assert len(page["_embedded"]["osdi:signatures"]) == 1
    assert "prev" in page["_links"] and "next" not in page["_links"]


async def test_unknown_petitions_and_signatures_are_404(client, token):
    petition = await published_petition()
    other = await published_petition("Another petition entirely here")
    result = await sign(other.id, SignatureInput(name="Ann Lee", email="ann@example.org"))
    staff = await token("staff")
    assert (await client.get("/api/v1/petitions/4242/signatures", headers=staff)).status_code == 404
    wrong_petition = await client.get(
        f"/api/v1/petitions/{petition.id}/signatures/{result.signature_id}", headers=staff
    )
    assert wrong_petition.status_code == 404
    assert (
        await client.get(f"/api/v1/petitions/{petition.id}/signatures/99999999999", headers=staff)
    ).status_code == 404
