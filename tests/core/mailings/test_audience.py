"""Audiences: what staff and leaders may ask for, what each selects, and who is always left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import NotFound, UserError
from core.groups.service import create_group
from core.mailings.audience import (
    count_audience,
    describe_audience,
    parse_audience,
    resolve_deliveries,
)
from core.mailings.service import create_mailing
from core.mailings.tables import Delivery, MailPreference, SavedAudience, SuppressedAddress
from core.people.tables import Person, Tagging
from core.people.tags import create_tag
from tests.core.mailings.conftest import add_members, add_signers
from tests.support.petitions import published_petition


async def people_in(spec: dict, topic: str = "campaigns") -> set[int]:
    """Who the audience resolves to, through the real INSERT … SELECT."""
    mailing_id = await create_mailing(
        kind="members", author_login_id=None, subject="Hi", body="Hello", audience={"all": True}
    )
    await resolve_deliveries(mailing_id, parse_audience(spec), topic, status="queued")
    rows = await Delivery.select(Delivery.person).where(Delivery.mailing == mailing_id)
    return {row["person"] for row in rows}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "Choose who receives this mailing"),
        ({"petition": 1, "tag": 2}, "Choose one audience, not several"),
        ({"petition": "seven"}, "Choose a petition from the list"),
        ({"petition": True}, "Choose a petition from the list"),
        ({"postal_prefix": "94%"}, "Enter the start of a postal code"),
        ({"all": "yes"}, '{"all": true}'),
        ({"all": True, "exclude_mailed_days": -3}, "whole number of days"),
        ({"all": True, "exclude_mailed_days": 400}, "goes up to 365 days"),
        ({"all": True, "exclude_signed": 5}, "exclude_signed is a list"),
        ({"all": True, "colour": "red"}, "Unknown audience option(s): colour"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_bad_audience_spec_is_refused_with_a_message_that_says_what_to_fix(spec, message) -> None:
    with pytest.raises(UserError) as caught:
        parse_audience(spec)
    assert message in caught.value.message


async def test_each_kind_of_audience_selects_its_members() -> None:
    petition = await published_petition("Save the park")
    group = await create_group("Riverside Council", region="CA")
    tag = await create_tag("volunteer")
    signers = await add_members(3, prefix="signer")
    in_ca = await add_members(2, prefix="cal", region="CA", postal_code="94110")
    in_ny = await add_members(2, prefix="york", region="NY", postal_code="10001")
    await add_signers(petition.id, signers)
    await Tagging.insert(Tagging(tag=tag.id, person=in_ny[0]))

    assert await people_in({"petition": petition.id}) == set(signers)
    assert await people_in({"tag": tag.id}) == {in_ny[0]}
    assert await people_in({"region": "CA"}) == set(in_ca)
    assert await people_in({"postal_prefix": "941"}) == set(in_ca)
    assert await people_in({"group": group.id}) == set(in_ca)  # members in the group's region
    assert await people_in({"all": True}) == set(signers + in_ca + in_ny)
    assert await count_audience(parse_audience({"region": "NY"})) == 2


async def test_a_group_audience_includes_signers_of_the_groups_petitions() -> None:
    group = await create_group("Lakeside Council")
    petition = await published_petition("Clean the lake", group_id=group.id)
    signers = await add_members(2)
    await add_signers(petition.id, signers)
    assert await people_in({"group": group.id}) == set(signers)


async def test_the_unsubscribed_the_suppressed_and_those_who_turned_the_topic_off_are_never_in_it() -> None:
    everyone = await add_members(6)
    await Person.update({Person.subscription: "unsubscribed"}).where(Person.id == everyone[0])
    await Person.update({Person.subscription: "bounced"}).where(Person.id == everyone[1])
    await SuppressedAddress.insert(SuppressedAddress(email_key="member2@example.org", reason="complaint"))
    await MailPreference.insert(MailPreference(person=everyone[3], topics_off=["campaigns", "events"]))
    await MailPreference.insert(MailPreference(person=everyone[4], topics_off=["events"]))

    assert await people_in({"all": True}) == {everyone[4], everyone[5]}
    assert await people_in({"all": True}, topic="events") == {everyone[5]}


async def test_exclusions_leave_out_signers_of_a_petition_and_the_recently_mailed() -> None:
    petition = await published_petition("Save the park")
    members = await add_members(4)
    await add_signers(petition.id, [members[0]])
    earlier = await create_mailing(
        kind="members", author_login_id=None, subject="Hi", body="Hello", audience={"all": True}
    )
    await Delivery.insert(
        Delivery(
            mailing=earlier, person=members[1], status="sent", sent_at=datetime.now(UTC) - timedelta(days=2)
        ),
        Delivery(
            mailing=earlier, person=members[2], status="sent", sent_at=datetime.now(UTC) - timedelta(days=9)
        ),
    )

    spec = {"all": True, "exclude_signed": [petition.id], "exclude_mailed_days": 3}
    assert await people_in(spec) == {members[2], members[3]}


async def test_a_saved_audience_expands_to_its_definition_plus_the_mailings_exclusions() -> None:
    petition = await published_petition("Save the park")
    members = await add_members(3, region="OH")
    await add_signers(petition.id, [members[0]])
    saved = await SavedAudience.insert(SavedAudience(name="Ohio", spec={"region": "OH"})).returning(
        SavedAudience.id
    )
    spec = {"saved": saved[0]["id"], "exclude_signed": [petition.id]}
    assert await people_in(spec) == {members[1], members[2]}
    words = await describe_audience(parse_audience(spec))
    assert words == "Ohio (members in OH), except signers of “Save the park”"


async def test_an_audience_naming_something_that_does_not_exist_is_not_found() -> None:
    with pytest.raises(NotFound):
        await count_audience(parse_audience({"tag": 999}))
    with pytest.raises(NotFound):
        await count_audience(parse_audience({"saved": 999}))


async def test_the_audience_is_described_in_words() -> None:
    petition = await published_petition("Save the park")
    spec = {"petition": petition.id, "exclude_mailed_days": 3}
    words = await describe_audience(parse_audience(spec))
    assert words == "Signers of “Save the park”, not mailed in the last 3 days"


async def test_resolving_twice_makes_one_delivery_per_person() -> None:
    members = await add_members(5)
    mailing_id = await create_mailing(
        kind="members", author_login_id=None, subject="Hi", body="Hello", audience={"all": True}
    )
    audience = parse_audience({"all": True})
    assert await resolve_deliveries(mailing_id, audience, "campaigns", status="queued") == 5
    assert await resolve_deliveries(mailing_id, audience, "campaigns", status="queued") == 5
    assert await Delivery.count().where(Delivery.mailing == mailing_id) == len(members)
