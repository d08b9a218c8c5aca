"""The OSDI helpers: usable from a form on another site without a token (rate-limited, no
member data in the answer), and with a token for integrations (the full resource)."""

import pytest

from core.api.helpers import ANONYMOUS_LIMIT
from core.instance_settings import set_policy
from core.moderation import rate_limits
from core.people.signup import PersonInput, sign_up
from core.people.tables import Person, Tag, Tagging
from core.petitions import counter
from core.petitions.service import close_petition
from core.petitions.tables import Signature
from tests.support.petitions import published_petition

API = "http://testserver.local/api/v1/"


def signature_body(email="ann@example.org", **extra):
    person = {
        "given_name": "Ann Marie",
        "family_name": "Lee",
        "email_addresses": [{"address": email, "primary": True, "status": "subscribed"}],
        "postal_addresses": [{"primary": True, "postal_code": "ab1 2cd", "locality": "Riverside"}],
        "phone_numbers": [{"primary": True, "number": 4420794600}],
        **extra.pop("person", {}),
    }
    return {
        "person": person,
        "comments": "Long overdue",
        "referrer_data": {"source": "partner-site", "website": "partner.example"},
        **extra,
    }


def helper(petition_id: int) -> str:
    return f"/api/v1/petitions/{petition_id}/record_signature_helper"


SIGNUP = "/api/v1/people/person_signup_helper"


async def test_anyone_can_sign_through_the_helper_and_learns_nothing_about_members(client):
    petition = await published_petition()
    first = await client.post(helper(petition.id), json=signature_body())
    again = await client.post(helper(petition.id), json=signature_body())

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"message": "Thank you for signing."}
    assert await Signature.count() == 1, "signing twice is idempotent"
    assert await counter.total(petition.id) == 1
    person = await Person.objects().first()
    assert (person.given_name, person.family_name) == ("Ann Marie", "Lee")
    assert (person.postal_code, person.locality, person.phone) == ("AB1 2CD", "Riverside", "4420794600")
    assert person.consent_instance_email is True, 'an email status of "subscribed" is the opt-in'
    signature = await Signature.objects().first()
    assert (signature.comment, signature.source) == ("Long overdue", "partner-site")


async def test_a_staff_token_gets_the_signature_201_then_200(client, token):
    petition = await published_petition()
    staff = await token("staff")
    created = await client.post(helper(petition.id), json=signature_body(), headers=staff)
    assert created.status_code == 201
    assert created.headers["content-type"].startswith("application/hal+json")
    body = created.json()
    signature = await Signature.objects().first()
    assert body["identifiers"] == [f"groundswell:{signature.id}"]
    assert body["comments"] == "Long overdue"
    assert body["_links"]["osdi:person"]["href"] == f"{API}people/{signature.person}"
    assert body["_links"]["osdi:petition"]["href"] == f"{API}petitions/{petition.id}"

    repeated = await client.post(helper(petition.id), json=signature_body(), headers=staff)
    assert repeated.status_code == 200
    assert repeated.json()["identifiers"] == body["identifiers"]
    assert await Signature.count() == 1


async def test_a_member_token_that_may_not_read_signatures_gets_the_acknowledgment(client, token):
    petition = await published_petition()
    response = await client.post(helper(petition.id), json=signature_body(), headers=await token("member"))
    assert response.status_code == 200
    assert response.json() == {"message": "Thank you for signing."}
    assert await Signature.count() == 1


async def test_with_confirmation_on_the_acknowledgment_says_to_check_email(client):
    await set_policy("confirm_signatures", True)
    petition = await published_petition()
    response = await client.post(helper(petition.id), json=signature_body())
    assert "confirm" in response.json()["message"]
    assert (await Signature.objects().first()).status == "unconfirmed"


async def test_an_existing_member_is_not_rewritten_by_an_anonymous_signature(client):
    await sign_up(
        PersonInput(email="ann@example.org", given_name="Ann", family_name="Lee", locality="Oldtown")
    )
    petition = await published_petition()
    body = signature_body(
        person={"given_name": "Mallory", "email_addresses": [{"address": "ann@example.org"}]}
    )
    assert (await client.post(helper(petition.id), json=body)).status_code == 200
    person = await Person.objects().first()
    assert (person.given_name, person.locality) == ("Ann", "Oldtown"), "only empty fields are filled in"
    assert person.phone == "4420794600"


async def test_a_wrong_token_is_401_not_an_anonymous_signature(client):
    petition = await published_petition()
    response = await client.post(
        helper(petition.id), json=signature_body(), headers={"OSDI-API-Token": "gs_x"}
    )
    assert response.status_code == 401
    assert "not valid" in response.json()["message"]
    assert await Signature.count() == 0


async def test_unknown_closed_and_draft_petitions(client):
    assert (await client.post(helper(424242), json=signature_body())).status_code == 404
    assert (await client.post(helper(99999999999999), json=signature_body())).status_code == 404
    closed = await published_petition("A petition that has closed already")
    await close_petition(closed.id)
    response = await client.post(helper(closed.id), json=signature_body())
    assert response.status_code == 410
    assert "closed" in response.json()["message"]
    assert await Signature.count() == 0 and await Person.count() == 0


@pytest.mark.parametrize(
    "body, message",
    [
        ({"person": "ann@example.org"}, "person: expected an object, got text"),
        ({}, "person: this field is required"),
        ({"person": {"given_name": "Ann"}}, "give at least one email address"),
        (
            {"person": {"given_name": "Ann", "email_addresses": [{"address": 5}]}},
            "person.email_addresses[0].address: expected text",
        ),
        (
            {"person": {"given_name": "Ann", "email_addresses": [{"address": "not-an-email"}]}},
            "not a valid email",
        ),
        ({"person": {"email_addresses": [{"address": "a@example.org"}]}}, "Enter your name"),
        (signature_body(comments=["x"]), "comments: expected text, got a list"),
        (signature_body(share_with_creator="yes"), "share_with_creator: expected true or false, got text"),
        (signature_body(person={"phone_numbers": [{"number": True}]}), "person.phone_numbers[0].number"),
        (signature_body(person={"postal_addresses": [{"country": "Britain"}]}), "two-letter"),
        (signature_body(comments="y" * 3000), "under 2000"),
    ],
)
async def test_bad_signature_input_is_400_naming_the_problem_and_stores_nothing(client, body, message):
    petition = await published_petition()
    response = await client.post(helper(petition.id), json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert await Signature.count() == 0
    assert await Person.count() == 0


async def test_anonymous_calls_are_rate_limited_per_address_and_tokens_are_not(client, token, monkeypatch):
    monkeypatch.setattr(rate_limits, "clock", lambda: 1_800_000_000.0)  # all inside one window
    for n in range(ANONYMOUS_LIMIT.allowed):
        response = await client.post(
            SIGNUP, json={"person": {"email_addresses": [{"address": f"p{n}@example.org"}]}}
        )
        assert response.status_code == 200, response.text
    refused = await client.post(
        SIGNUP, json={"person": {"email_addresses": [{"address": "late@example.org"}]}}
    )
    assert refused.status_code == 429
    assert "Too many submissions" in refused.json()["message"]
    assert await Person.count() == ANONYMOUS_LIMIT.allowed

    petition = await published_petition()
    also_refused = await client.post(helper(petition.id), json=signature_body())
    assert also_refused.status_code == 429, "the limit covers both helpers"

    with_token = await client.post(helper(petition.id), json=signature_body(), headers=await token("staff"))
    assert with_token.status_code == 201


async def test_the_person_signup_helper_creates_a_member_anonymously(client):
    body = {
        "person": {
            "given_name": "Sam",
            "family_name": "Fox",
            "email_addresses": [{"address": "Sam.Fox@Example.org", "status": "subscribed"}],
            "postal_addresses": [{"postal_code": "n1 9gu", "region": "London", "country": "gb"}],
            "consents": {"national_campaigns": True},
        }
    }
    response = await client.post(SIGNUP, json=body)
    assert response.status_code == 200
    assert response.json() == {"message": "Thank you for signing up."}
    person = await Person.objects().first()
    assert person.email == "Sam.Fox@example.org"
    assert (person.postal_code, person.region, person.country) == ("N1 9GU", "London", "GB")
    assert person.consent_instance_email and person.consent_national
    assert not person.consent_share_with_creators
    assert person.source == "signup"


async def test_signing_up_again_never_withdraws_a_consent_or_overwrites_anonymously(client):
    await sign_up(
        PersonInput(
            email="sam@example.org", given_name="Sam", consent_instance_email=True, consent_national=True
        )
    )
    body = {
        "person": {
            "given_name": "Someone Else",
            "family_name": "Fox",
            "email_addresses": [{"address": "sam@example.org", "status": "unsubscribed"}],
            "consents": {"instance_email": False, "national_campaigns": False, "share_with_creators": True},
        }
    }
    assert (await client.post(SIGNUP, json=body)).status_code == 200
    person = await Person.objects().first()
    assert person.consent_instance_email and person.consent_national, "consents only widen"
    assert person.consent_share_with_creators
    assert person.given_name == "Sam" and person.family_name == "Fox"
    assert await Person.count() == 1


async def test_a_staff_token_gets_the_person_and_may_update_and_tag(client, token):
    staff = await token("staff")
    await client.post("/api/v1/tags", json={"name": "volunteer"}, headers=staff)
    body = {
        "person": {"given_name": "Sam", "email_addresses": [{"address": "sam@example.org"}]},
        "add_tags": ["volunteer"],
    }
    created = await client.post(SIGNUP, json=body, headers=staff)
    assert created.status_code == 201
    assert created.json()["given_name"] == "Sam"
    assert created.json()["email_addresses"][0]["address"] == "sam@example.org"
    assert created.json()["_links"]["self"]["href"].startswith(f"{API}people/")

    body["person"]["given_name"] = "Samuel"
    updated = await client.post(SIGNUP, json=body, headers=staff)
    assert updated.status_code == 200
    assert updated.json()["given_name"] == "Samuel", "staff tokens update what they send"
    assert await Tagging.count() == 1


@pytest.mark.parametrize("role", [None, "member"])
async def test_tagging_through_the_signup_helper_needs_a_staff_token(client, token, role):
    await Tag.insert(Tag(name="volunteer"))
    headers = await token(role) if role else {}
    body = {"person": {"email_addresses": [{"address": "sam@example.org"}]}, "add_tags": ["volunteer"]}
    response = await client.post(SIGNUP, json=body, headers=headers)
    assert response.status_code == 403
    assert "staff token" in response.json()["message"]
    assert await Person.count() == (1 if role else 0)  # only the token's own login


async def test_an_unknown_tag_is_400_and_nobody_is_created(client, token):
    body = {"person": {"email_addresses": [{"address": "sam@example.org"}]}, "add_tags": ["no-such-tag"]}
    response = await client.post(SIGNUP, json=body, headers=await token("staff"))
    assert response.status_code == 400
    assert "no tag called 'no-such-tag'" in response.json()["message"]
    assert await Person.objects().where(Person.email == "sam@example.org").first() is None


@pytest.mark.parametrize(
    "body, message",
    [
        ({"person": {"email_addresses": "sam@example.org"}}, "person.email_addresses: expected a list"),
        (
            {"person": {"email_addresses": [{"address": "sam@example.org"}]}, "add_tags": "volunteer"},
            "add_tags: expected a list",
        ),
        (
            {
                "person": {
                    "email_addresses": [{"address": "sam@example.org"}],
                    "consents": {"national_campaigns": "yes"},
                }
            },
            "person.consents.national_campaigns: expected true or false",
        ),
        (
            {"person": {"given_name": "x" * 201, "email_addresses": [{"address": "sam@example.org"}]}},
            "limited to 200",
        ),
        (
            {
                "person": {
                    "email_addresses": [{"address": "sam@example.org"}],
                    "phone_numbers": [{"number": "call me"}],
                }
            },
            "Phone numbers may contain only",
        ),
    ],
)
async def test_bad_signup_input_is_400_and_stores_nothing(client, body, message):
    response = await client.post(SIGNUP, json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert await Person.count() == 0


async def test_a_script_on_another_site_can_post_json_as_plain_text(client):
    """A cross-site `fetch` with Content-Type text/plain needs no CORS preflight."""
    import json

    petition = await published_petition()
    response = await client.post(
        helper(petition.id), content=json.dumps(signature_body()), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 200
    assert await Signature.count() == 1
