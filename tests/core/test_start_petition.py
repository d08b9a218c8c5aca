"""Starting a petition: title first, similar petitions offered, then a draft and a leader."""

from core.accounts.logins import login_for_email
from core.petitions.tables import Petition, PetitionTarget
from tests.support.accounts import sign_in
from tests.support.forms import submit
from tests.support.mailbox import mail_to
from tests.support.outbox import wait_for_outbox
from tests.support.petitions import published_petition

DRAFT = {
    "title": "Plant trees along Mill Road",
    "summary": "Shade and cleaner air for the school run.",
    "body": "Mill Road has no trees. **Plant fifty** before next summer, please.",
    "target_name_0": "Parks Committee",
    "target_title_0": "Riverside Council",
    "goal": "500",
    "scope_kind": "postal",
    "scope_value": "AB1",
}


async def test_the_first_step_asks_for_a_title(client):
    page = await client.get("/start")
    assert page.status_code == 200
    assert 'name="title"' in page.text
    assert 'name="body"' not in page.text


async def test_similar_petitions_are_offered_before_starting(client):
    await published_petition("Plant more trees in Riverside park")
    page = await client.get("/start?title=Plant+trees+along+Mill+Road")
    assert "Is one of these your petition?" in page.text
    assert "Plant more trees in Riverside park" in page.text
    assert 'name="body"' in page.text


async def test_a_visitor_starts_a_draft_and_is_emailed_a_link_to_publish_it(client, data_dir):
    response = await submit(
        client,
        "/start?title=x",
        "/start",
        {**DRAFT, "your_name": "Priya Patel", "your_email": "priya@example.org"},
    )
    assert response.status_code == 200
    assert "Your draft is saved" in response.text
    petition = await Petition.objects().first()
    assert petition.status == "draft"
    assert petition.scope_value == "AB1" and petition.goal == 500
    targets = await PetitionTarget.objects()
    assert [(t.name, t.title) for t in targets] == [("Parks Committee", "Riverside Council")]
    login = await login_for_email("priya@example.org")
    assert login.role == "leader" and login.person == petition.creator

    await wait_for_outbox()
    mail = mail_to(data_dir, "priya@example.org", "Your petition draft")
    assert "http://testserver.local/login/" in mail.text


async def test_a_signed_in_member_goes_straight_to_the_draft_and_becomes_a_leader(client):
    await sign_in(client, "sam@example.org", "member")
    response = await submit(client, "/start?title=x", "/start", DRAFT, follow_redirects=False)
    assert response.status_code == 303
    petition = await Petition.objects().first()
    assert response.headers["location"] == f"/lead/petitions/{petition.id}"
    assert (await login_for_email("sam@example.org")).role == "leader"


async def test_mistakes_are_shown_on_the_form_with_what_was_typed(client):
    response = await submit(
        client,
        "/start?title=x",
        "/start",
        {**DRAFT, "body": "too short", "your_name": "P", "your_email": "p@example.org"},
    )
    assert response.status_code == 400
    assert "at least 30 characters" in response.text
    assert "Plant trees along Mill Road" in response.text  # the title was kept
    assert await Petition.count() == 0


async def test_a_visitor_must_give_a_valid_email(client):
    response = await submit(
        client, "/start?title=x", "/start", {**DRAFT, "your_name": "P", "your_email": "not-an-email"}
    )
    assert response.status_code == 400
    assert "not a valid email address" in response.text
    assert await Petition.count() == 0


async def test_a_goal_that_is_not_a_number_is_explained(client):
    response = await submit(
        client,
        "/start?title=x",
        "/start",
        {**DRAFT, "goal": "lots", "your_name": "P", "your_email": "p@example.org"},
    )
    assert response.status_code == 400
    assert "number of signatures" in response.text


async def test_html_in_the_petition_text_is_inert(client):
    await sign_in(client, "sam@example.org", "member")
    await submit(
        client,
        "/start?title=x",
        "/start",
        {**DRAFT, "body": "Please <img src=x onerror=alert(1)> act now, this matters a lot."},
    )
    petition = await Petition.objects().first()
    assert "<img" not in petition.body_html
