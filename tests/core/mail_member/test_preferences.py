"""The preferences page: topics, how often, unsubscribe from all and back, reached from an
email's signed link or from the account page."""

from __future__ import annotations

import pytest

from core.errors import NotFound, UserError
from core.mailings import links
from core.mailings.preferences import DEFAULT, Pref, get_preferences, preferences_for, set_preferences
from core.mailings.tables import MAIL_TOPICS
from tests.support.accounts import sign_in
from tests.support.forms import csrf_token_in, submit

from .support import member, subscription


def _path(url: str) -> str:
    return url.removeprefix("http://testserver.local")


async def test_choices_saved_on_the_page_come_back_checked_and_reach_the_sender(client):
    person = await member("ada@example.org")
    url = _path(links.preferences_url(person))
    page = await client.get(url)
    assert page.status_code == 200
    assert "a***@example.org" in page.text
    assert page.text.count("checked") == len(MAIL_TOPICS)  # everything on by default
    saved = await submit(client, url, url, {"topic": ["campaigns", "events"], "max_per_week": "2"})
    assert saved.status_code == 200
    assert str(saved.url).endswith("?saved=preferences")
    assert "Your choices are saved" in saved.text
    assert 'value="campaigns" checked' in saved.text
    assert 'value="national" checked' not in saved.text
    assert '<option value="2" selected' in saved.text
    assert await get_preferences(person) == Pref(topics_off=("petition_updates", "national"), max_per_week=2)
    other = await member("bob@example.org")
    assert await preferences_for([person, other]) == {
        person: Pref(topics_off=("petition_updates", "national"), max_per_week=2),
        other: DEFAULT,
    }
    again = await submit(client, url, url, {"max_per_week": "0"})  # every box cleared
    assert again.status_code == 200
    assert (await get_preferences(person)).topics_off == MAIL_TOPICS


async def test_unsubscribe_from_all_and_back_from_the_preferences_page(client):
    person = await member("ada@example.org")
    url = _path(links.preferences_url(person))
    gone = await submit(client, url, url, {"action": "unsubscribe"})
    assert "unsubscribed from all" in gone.text
    assert await subscription(person) == "unsubscribed"
    assert "Subscribe again" in gone.text
    back = await client.post(url, data={"_csrf_token": csrf_token_in(gone.text), "action": "resubscribe"})
    assert back.status_code == 200
    assert "Welcome back" in back.text
    assert await subscription(person) == "subscribed"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_per_week": "4"}, "How often must be one of"),
        ({"max_per_week": "lots"}, "Choose how often"),
        ({"topic": "cat pictures", "max_per_week": "0"}, "Unknown mail topic"),
    ],
)
async def test_bad_choices_are_refused_with_a_message_and_nothing_saved(client, data, message):
    person = await member("ada@example.org")
    url = _path(links.preferences_url(person))
    refused = await submit(client, url, url, data)
    assert refused.status_code == 400
    assert message in refused.text
    assert await get_preferences(person) == DEFAULT


async def test_a_forged_or_borrowed_preferences_link_is_refused(client):
    person = await member("ada@example.org")
    good = links.preferences_token(person)
    for token in ["nonsense", good[:-3], links.unsubscribe_token(person), good.split(".")[0] + ".AAAA"]:
        page = await client.get(f"/mail/preferences/{token}")
        assert page.status_code == 400, token
        assert "This link is damaged" in page.text


async def test_a_signed_in_member_reaches_their_preferences_from_the_account_page(client):
    assert (
        (await client.get("/mail/preferences", follow_redirects=False))
        .headers["location"]
        .startswith("/login?next=")
    )
    await sign_in(client, "ada@example.org")
    account = await client.get("/account/")
    assert 'href="/mail/preferences"' in account.text
    page = await client.get("/mail/preferences")
    assert page.status_code == 200
    assert "Mail preferences" in page.text
    assert "a***@example.org" in page.text


async def test_the_service_checks_what_it_saves():
    person = await member("ada@example.org")
    with pytest.raises(UserError, match="Unknown mail topic"):
        await set_preferences(person, ["spam"], 0)
    with pytest.raises(NotFound):
        await set_preferences(person + 1000, [], 0)
    assert await set_preferences(person, ["national", "campaigns", "national"], 1) == Pref(
        topics_off=("campaigns", "national"), max_per_week=1
    )
    assert await set_preferences(person, [], 3) == Pref(topics_off=(), max_per_week=3)
    assert await get_preferences(person) == Pref(topics_off=(), max_per_week=3)
