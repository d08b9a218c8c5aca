"""Signing a petition: one request, idempotent per person, counted without a hot row."""

import asyncio

import pytest

from core.errors import Gone, NotFound, UserError
from core.instance_settings import set_policy
from core.people.tables import Person
from core.petitions import counter
from core.petitions.service import PetitionInput, TargetInput, close_petition, create_petition
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Signature
from tests.support.petitions import published_petition


def signer(email="sam@example.org", **fields) -> SignatureInput:
    return SignatureInput(
        name=fields.pop("name", "Sam Signer"),
        email=email,
        postal_code=fields.pop("postal_code", "ab1 2cd"),
        **fields,
    )


async def test_signing_creates_the_member_and_counts_the_signature():
    petition = await published_petition()
    result = await sign(petition.id, signer(keep_updated=True, comment="Yes!", source="mail-7"))
    assert result.created and result.status == "counted"
    person = await Person.objects().where(Person.id == result.person_id).first()
    assert (person.given_name, person.family_name) == ("Sam", "Signer")
    assert person.postal_code == "AB1 2CD"
    assert person.consent_instance_email is True
    assert await counter.total(petition.id) == 1
    signature = await Signature.objects().first()
    assert (signature.comment, signature.source) == ("Yes!", "mail-7")


async def test_signing_twice_is_idempotent_and_says_so():
    petition = await published_petition()
    first = await sign(petition.id, signer("Sam.Signer@gmail.com"))
    again = await sign(petition.id, signer("samsigner+petitions@GMAIL.com"))
    assert first.created and not again.created
    assert again.signature_id == first.signature_id
    assert await counter.total(petition.id) == 1
    assert await Signature.count() == 1


async def test_signing_never_withdraws_a_consent_given_before():
    petition = await published_petition()
    other = await published_petition("Keep the library open on Sundays")
    await sign(petition.id, signer(keep_updated=True))
    await sign(other.id, signer(keep_updated=False))
    person = await Person.objects().first()
    assert person.consent_instance_email is True


async def test_concurrent_signers_are_all_counted():
    petition = await published_petition()
    await asyncio.gather(*[sign(petition.id, signer(f"s{i}@example.org")) for i in range(40)])
    assert await counter.total(petition.id) == 40
    assert await Signature.count() == 40


async def test_a_closed_petition_takes_no_signatures():
    petition = await published_petition()
    await close_petition(petition.id)
    with pytest.raises(Gone, match="closed"):
        await sign(petition.id, signer())


async def test_a_draft_or_unknown_petition_takes_no_signatures():
    draft = await create_petition(
        PetitionInput(
            title="A draft nobody can sign yet", body="x" * 40, targets=[TargetInput(name="Council")]
        ),
        creator_id=None,
    )
    with pytest.raises(NotFound):
        await sign(draft.id, signer())
    with pytest.raises(NotFound):
        await sign(999_999, signer())


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"email": "not-an-email"}, "not a valid email"),
        ({"email": ""}, "Enter an email"),
        ({"name": "   "}, "Enter your name"),
        ({"name": "x" * 10_000}, "limited to 200"),
        ({"comment": "y" * 5000}, "under 2000"),
        ({"postal_code": "z" * 50}, "limited to 20"),
    ],
)
async def test_bad_signer_input_is_refused_with_a_message_and_nothing_stored(fields, message):
    petition = await published_petition()
    data = {"name": "Sam Signer", "email": "sam@example.org", **fields}
    with pytest.raises(UserError, match=message):
        await sign(petition.id, SignatureInput(**data))
    assert await Signature.count() == 0
    assert await Person.count() == 0


async def test_with_confirmation_required_a_signature_waits_uncounted():
    await set_policy("confirm_signatures", True)
    petition = await published_petition()
    result = await sign(petition.id, signer())
    assert result.status == "unconfirmed"
    assert await counter.total(petition.id) == 0


async def test_held_signatures_are_kept_aside_uncounted():
    petition = await published_petition()
    result = await sign(petition.id, signer(), held=True)
    assert result.status == "held"
    assert await Signature.count() == 1
    assert await counter.total(petition.id) == 0


async def test_a_confirmation_email_makes_an_unconfirmed_signature_count(client, data_dir):
    import re

    from tests.support.mailbox import mail_to
    from tests.support.outbox import wait_for_outbox

    await set_policy("confirm_signatures", True)
    petition = await published_petition()
    await sign(petition.id, signer("conf@example.org"))
    await wait_for_outbox()
    mail = mail_to(data_dir, "conf@example.org", "Confirm your signature")
    link = re.search(r"http://testserver.local(/signatures/confirm/\S+)", mail.text).group(1)

    first = await client.get(link)
    assert first.status_code == 200 and "Your signature is confirmed" in first.text
    assert await counter.total(petition.id) == 1
    again = await client.get(link)
    assert "already confirmed" in again.text
    assert await counter.total(petition.id) == 1
    assert (await client.get("/signatures/confirm/forged")).status_code == 404
