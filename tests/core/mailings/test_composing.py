"""Composing: merge fields, HTML and text parts, tracked and attributed links, the footer and the
List-Unsubscribe headers; template problems shown in a preview and refused at send."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from core.errors import NotFound, UserError
from core.instance_settings import set_policy
from core.mailings import links
from core.mailings.composing import TemplateProblem, check_template, preview, render_for
from core.mailings.service import create_mailing, send_now
from core.mailings.tables import Mailing
from tests.core.mailings.conftest import add_members, add_signers
from tests.support.petitions import published_petition

BODY = """Dear {{ given_name or "friend" }},

The council votes on **Monday**. [Sign “{{ petition_title }}”]({{ petition_url }}) and
read <https://example.org/background>.
"""


async def signers_mailing(**fields) -> tuple[int, int, list[int]]:
    petition = await published_petition("Save the park")
    people = await add_members(2, prefix="signer")
    await add_signers(petition.id, people)
    mailing_id = await create_mailing(
        kind="signers",
        author_login_id=None,
        petition_id=petition.id,
        subject=fields.pop("subject", "{{ given_name }}, the vote is Monday"),
        body=fields.pop("body", BODY),
        audience={},
        topic="petition_updates",
        **fields,
    )
    return mailing_id, petition.id, people


def hrefs(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]*)"', html)]


async def test_each_member_gets_their_merge_fields_in_an_html_and_a_plain_text_part() -> None:
    mailing_id, _, people = await signers_mailing()
    mail = await render_for(mailing_id, people[0])
    assert mail.subject == "Signer0, the vote is Monday"
    assert "Dear Signer0," in mail.text
    assert "<p>Dear Signer0,</p>" in mail.html
    assert "<strong>Monday</strong>" in mail.html
    assert "Sign “Save the park”" in mail.text and "Sign “Save the park”" in mail.html
    assert "<script" not in mail.html


async def test_a_name_with_markdown_in_it_stays_a_name() -> None:
    mailing_id, _, _ = await signers_mailing()
    person = {"id": 1, "given_name": "[click](https://evil.example)", "family_name": ""}
    mailing = await Mailing.select().where(Mailing.id == mailing_id).first()
    mail = await render_for(mailing, person)
    assert "evil.example" not in " ".join(hrefs(mail.html))
    assert "Dear [click](https://evil.example)," in mail.text


async def test_links_carry_the_mailings_source_code_and_go_through_the_signed_click_redirect() -> None:
    mailing_id, _, people = await signers_mailing()
    mail = await render_for(mailing_id, people[0], delivery_id=41, variant="B")
    tracked = [links.read_click_token(h.rsplit("/", 1)[1]) for h in hrefs(mail.html) if "/mail/c/" in h]
    assert len(tracked) == 2
    (delivery, petition_link), (_, other_link) = tracked
    assert delivery == 41
    assert urlsplit(petition_link).path.startswith("/p/")
    assert parse_qs(urlsplit(petition_link).query)["source"] == [f"mail-{mailing_id}-B"]
    assert other_link == "https://example.org/background"  # not ours: no source code
    # The plain-text part links through the same redirect.
    assert "http://testserver.local/mail/c/" in mail.text


async def test_every_email_has_one_click_list_unsubscribe_headers_and_a_preferences_footer() -> None:
    mailing_id, _, people = await signers_mailing()
    mail = await render_for(mailing_id, people[0], delivery_id=7)
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https_link, mailto = re.findall(r"<([^>]+)>", mail.headers["List-Unsubscribe"])
    assert https_link.startswith("http://testserver.local/mail/unsubscribe/")
    assert links.read_unsubscribe_token(https_link.rsplit("/", 1)[1]) == (people[0], mailing_id)
    assert mailto.startswith("mailto:") and "subject=unsubscribe%20" in mailto
    footer = hrefs(mail.html)[-2:]
    assert links.read_preferences_token(footer[0].rsplit("/", 1)[1]) == people[0]
    assert footer[1] == https_link
    assert "Choose what you get (topics, how often): http://testserver.local/mail/preferences/" in mail.text
    assert "because you signed “Save the park”" in mail.text


async def test_the_open_pixel_is_off_by_default_and_present_when_the_instance_turns_it_on() -> None:
    mailing_id, _, people = await signers_mailing()
    assert "/mail/o/" not in (await render_for(mailing_id, people[0], delivery_id=3)).html
    await set_policy("mail_open_tracking", True)
    html = (await render_for(mailing_id, people[0], delivery_id=3)).html
    [pixel] = re.findall(r'<img src="([^"]+)"', html)
    assert links.read_open_token(pixel.rsplit("/", 1)[1].removesuffix(".gif")) == 3


def test_an_undefined_merge_field_is_named_with_the_fields_that_exist() -> None:
    problems = check_template("Hi {{ frist_name }}", "Body {{ given_name }}")
    assert problems == [
        "{{ frist_name }} in the subject is not a merge field (use one of: given_name, family_name, "
        "full_name, locality, region, postal_code, petition_title, petition_url)."
    ]
    assert check_template("Hi", "{% if %}") == [
        "The body has a template error on line 1: Expected an expression, got 'end of statement block'."
    ]
    assert "needs a petition" in check_template("Hi", "{{ petition_url }}", has_petition=False)[0]


async def test_a_template_that_uses_the_sandbox_against_us_does_not_render() -> None:
    problems = check_template("Hi", "{{ given_name.__class__.__mro__ }}")
    assert problems and "cannot be rendered" in problems[0]


async def test_creating_a_mailing_with_an_undefined_merge_field_is_refused() -> None:
    with pytest.raises(UserError) as caught:
        await signers_mailing(subject="Hi {{ frist_name }}")
    assert "{{ frist_name }} in the subject is not a merge field" in caught.value.message


async def test_preview_shows_the_problem_and_send_is_refused_for_a_broken_template() -> None:
    mailing_id, _, _ = await signers_mailing()
    # A template broken after it was saved (an older version, an API client writing directly).
    await Mailing.update({Mailing.body: "Hello {{ nickname }}"}).where(Mailing.id == mailing_id)
    with pytest.raises(TemplateProblem) as shown:
        await preview(mailing_id)
    assert shown.value.problems == [
        "{{ nickname }} in the body is not a merge field (use one of: given_name, family_name, full_name, "
        "locality, region, postal_code, petition_title, petition_url)."
    ]
    with pytest.raises(TemplateProblem):
        await send_now(mailing_id)
    assert (await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first())["status"] == "draft"


async def test_preview_uses_a_real_signers_merge_fields_but_never_their_address() -> None:
    mailing_id, _, people = await signers_mailing()
    mail = await preview(mailing_id)
    assert "Dear Signer0," in mail.text
    everything = mail.subject + mail.text + mail.html + " ".join(mail.headers.values())
    assert "signer0@example.org" not in everything
    # Footer links in a preview act for nobody, so a leader's click unsubscribes no signer.
    https_link = re.findall(r"<([^>]+)>", mail.headers["List-Unsubscribe"])[0]
    assert links.read_unsubscribe_token(https_link.rsplit("/", 1)[1]) == (0, mailing_id)
    assert "Dear Signer1," in (await preview(mailing_id, people[1])).text


async def test_preview_refuses_someone_outside_the_audience() -> None:
    mailing_id, _, _ = await signers_mailing()
    [stranger] = await add_members(1, prefix="stranger")
    with pytest.raises(NotFound):
        await preview(mailing_id, stranger)


async def test_the_petition_page_carries_the_source_from_the_link_into_the_sign_form(client) -> None:
    petition = await published_petition("Save the park")
    page = await client.get(f"/p/{petition.slug}?source=mail-12-B")
    assert '<input type="hidden" name="source" value="mail-12-B">' in page.text
