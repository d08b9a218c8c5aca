"""Unsubscribing from a campaign email: a confirmation page on GET (link scanners prefetch),
RFC 8058 one-click POSTs from mail providers without cookies, and damaged or forged links."""

from __future__ import annotations

import base64

import pytest

from core import signed_tokens
from core.mailings import links
from core.mailings.suppression import resubscribe, unsubscribe
from core.mailings.tables import Mailing
from core.people.tables import Person
from tests.support.asgi import browser
from tests.support.forms import csrf_token_in, submit

from .support import delivery, events, member, subscription

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _path(url: str) -> str:
    return url.removeprefix("http://testserver.local")


async def test_the_page_names_the_masked_address_and_a_get_changes_nothing(client):
    person = await member("ada@example.org")
    mailing_id, _ = await delivery(person)
    page = await client.get(_path(links.unsubscribe_url(person, mailing_id)))
    assert page.status_code == 200
    assert "a***@example.org" in page.text
    assert "ada@example.org" not in page.text
    assert 'name="_csrf_token"' in page.text
    assert "/mail/preferences/" in page.text
    assert await subscription(person) == "subscribed"
    assert await events() == []


async def test_the_button_unsubscribes_records_the_mailing_and_offers_to_resubscribe(client):
    person = await member("ada@example.org")
    mailing_id, delivery_id = await delivery(person)
    before = (await Person.select(Person.updated_at).where(Person.id == person).first())["updated_at"]
    url = _path(links.unsubscribe_url(person, mailing_id))
    done = await submit(client, url, url)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert await subscription(person) == "unsubscribed"
    after = (await Person.select(Person.updated_at).where(Person.id == person).first())["updated_at"]
    assert after > before
    [event] = await events("unsubscribe")
    assert (event["person"], event["mailing"], event["delivery"], event["detail"]) == (
        person,
        mailing_id,
        delivery_id,
        "page",
    )
    again = await client.post(
        f"/mail/resubscribe/{url.rsplit('/', 1)[1]}", data={"_csrf_token": csrf_token_in(done.text)}
    )
    assert again.status_code == 200
    assert "Welcome back" in again.text
    assert await subscription(person) == "subscribed"


async def test_a_one_click_post_from_a_mail_provider_needs_no_cookie_or_csrf_token(app, client):
    person = await member("ada@example.org")
    mailing_id, _ = await delivery(person)
    async with browser(app) as provider:  # a fresh client: no cookies at all
        response = await provider.post(_path(links.unsubscribe_url(person, mailing_id)), data=ONE_CLICK)
    assert response.status_code == 200
    assert "unsubscribed" in response.text
    assert await subscription(person) == "unsubscribed"
    [event] = await events("unsubscribe")
    assert (event["mailing"], event["detail"]) == (mailing_id, "one-click")


async def test_a_replayed_one_click_post_changes_nothing_and_still_answers_200(app, client):
    person = await member("ada@example.org")
    mailing_id, _ = await delivery(person)
    url = _path(links.unsubscribe_url(person, mailing_id))
    async with browser(app) as provider:
        answers = [await provider.post(url, data=ONE_CLICK) for _ in range(3)]
        multipart = await provider.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert multipart.status_code == 200
    assert len(await events("unsubscribe")) == 1


async def test_a_form_post_without_a_csrf_token_is_refused_and_changes_nothing(app, client):
    person = await member("ada@example.org")
    url = _path(links.unsubscribe_url(person))
    await client.get(url)  # has the cookie, but posts no token
    refused = await client.post(url, data={})
    assert refused.status_code == 403
    assert "reload the page" in refused.text
    async with browser(app) as other:
        forged = await other.post(url, data={"_csrf_token": "f" * 128})
    assert forged.status_code == 403
    assert await subscription(person) == "subscribed"


def _damaged_tokens(person: int) -> list[str]:
    good = links.unsubscribe_token(person, None)
    body, mac = good.split(".")
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    other_secret = signed_tokens.sign(links.UNSUBSCRIBE, f"{person}:", secret="x" * 40)
    not_a_number = signed_tokens.sign(links.UNSUBSCRIBE, "ada@example.org:")
    return [
        "nonsense",
        "abc.def",
        body,  # the MAC cut off, as a mail program wrapping a long line does
        good[:-5],
        f"{body}.{flipped}",
        other_secret,
        links.preferences_token(person),  # a token for another purpose
        links.click_url(1, "https://example.org").rsplit("/", 1)[1],
        not_a_number,
        base64.urlsafe_b64encode(b"\xff\xfe~1:").decode().rstrip("=") + "." + mac,
        "x" * 3000,
    ]


async def test_damaged_or_forged_links_get_a_page_saying_how_to_unsubscribe_anyway(app, client):
    person = await member("ada@example.org")
    csrf = csrf_token_in((await client.get(_path(links.unsubscribe_url(person)))).text)
    for token in _damaged_tokens(person):
        page = await client.get(f"/mail/unsubscribe/{token}")
        assert page.status_code == 400, token
        assert "This link is damaged" in page.text
        assert "/mail/preferences" in page.text and "reply" in page.text
        async with browser(app) as provider:
            one_click = await provider.post(f"/mail/unsubscribe/{token}", data=ONE_CLICK)
        assert one_click.status_code == 400, token
        human = await client.post(f"/mail/unsubscribe/{token}", data={"_csrf_token": csrf})
        assert human.status_code == 400, token
    assert await subscription(person) == "subscribed"
    assert await events() == []


async def test_a_link_for_someone_no_longer_on_the_lists_says_so(app, client):
    person = await member("ada@example.org")
    url = _path(links.unsubscribe_url(person))
    await Person.delete().where(Person.id == person)
    page = await client.get(url)
    assert page.status_code == 200
    assert "no longer on our lists" in page.text
    async with browser(app) as provider:
        assert (await provider.post(url, data=ONE_CLICK)).status_code == 200


async def test_unsubscribe_is_idempotent_and_counts_once_per_person_and_mailing():
    person = await member("ada@example.org")
    mailing_id, _ = await delivery(person)
    assert await unsubscribe(person, mailing_id=mailing_id, via="page") is True
    assert await unsubscribe(person, mailing_id=mailing_id, via="one-click") is False
    await resubscribe(person)
    assert await unsubscribe(person, mailing_id=mailing_id, via="page") is True  # changed again…
    assert len(await events("unsubscribe")) == 1  # …but that mailing lost this member once


async def test_an_unsubscribe_from_a_deleted_mailing_still_unsubscribes():
    person = await member("ada@example.org")
    mailing_id, _ = await delivery(person)
    await Mailing.delete().where(Mailing.id == mailing_id)
    assert await unsubscribe(person, mailing_id=mailing_id, via="one-click") is True
    assert await subscription(person) == "unsubscribed"
    [event] = await events("unsubscribe")
    assert event["mailing"] is None


@pytest.mark.parametrize("status", ["bounced", "complained"])
async def test_unsubscribing_never_relaxes_a_bounce_or_complaint(status):
    person = await member("ada@example.org")
    await Person.update({Person.subscription: status}).where(Person.id == person)
    assert await unsubscribe(person, via="page") is False
    assert await subscription(person) == status
