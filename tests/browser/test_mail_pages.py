"""A leader emails their signers in a real browser on a phone: start and publish a petition, a
supporter signs, then compose → preview (the signer's given name, never their address) → test
to oneself → send now → the report counts the delivery."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.support.mailbox import mail_to, mails

pytestmark = pytest.mark.slow


def _wait_for_mail(data_dir, address: str, subject: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in mails(data_dir) if address in m.to and subject in m.subject]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no mail to {address} with {subject!r} after {timeout}s")


def _on(base: str, url: str) -> str:
    """`url` on the server under test: links in mail and pages carry the instance's public URL,
    which the `live` fixture leaves at its default."""
    parts = urlsplit(url)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def test_a_leader_emails_their_signers_on_a_phone(live, phone):
    instance, server = live
    page = phone
    base = server.base_url

    # A leader starts and publishes a petition (signed in by the emailed link).
    page.goto(f"{base}/start")
    page.get_by_label("What do you want to change?").fill("Reopen the Riverside footbridge")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Name (required)").fill("Jane Mayor")
    page.get_by_label("What do you ask, and why?").fill(
        "The footbridge has been closed for two years. Reopen it so children can walk to school."
    )
    page.get_by_label("Your name").fill("Priya Patel")
    page.get_by_label("Your email").fill("priya@example.org")
    page.get_by_role("button", name="Save draft").click()
    link = re.search(r"https?://\S+/login/\S+", mail_to(instance.data_dir, "priya@example.org").text)
    page.goto(_on(base, link.group(0)))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Publish").click()
    petition_url = page.get_by_role("link", name=re.compile("public page", re.I)).first.get_attribute("href")

    # A supporter signs, without sharing their details with the leader.
    supporter = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    signer = supporter.new_page()
    signer.goto(_on(base, petition_url))
    signer.get_by_label("Your name", exact=True).fill("Sam Signer")
    signer.get_by_label("Email", exact=True).fill("sam.signer@example.org")
    signer.get_by_label("Postal code", exact=True).fill("AB1 2CD")
    signer.get_by_role("button", name="Sign").click()
    expect(signer.get_by_role("heading", name="Thank you for signing")).to_be_visible()
    supporter.close()

    # From the dashboard: “Email your signers”, compose, save.
    page.reload()
    page.get_by_role("link", name="Email your signers").click()
    expect(page.get_by_text("1 signer can be emailed")).to_be_visible()
    page.get_by_role("link", name="Write an email").click()
    page.get_by_label("Subject").fill("Thank you, {{ given_name }}")
    page.get_by_label("Message").fill(
        "Hi {{ given_name }},\n\nThe council votes on Monday. Ask a friend: {{ petition_url }}"
    )
    page.get_by_role("button", name="Save draft and preview").click()
    expect(page.get_by_role("status").filter(has_text="Your draft is saved.")).to_be_visible()
    # Sam did not agree to share their name, so the preview uses example merge fields.
    expect(page.get_by_text("With example merge fields (")).to_be_visible()
    expect(page.get_by_text("Thank you, Alex").first).to_be_visible()
    preview = page.frame_locator("iframe[title='The email as signers will see it']")
    expect(preview.get_by_text("Hi Alex,")).to_be_visible()
    assert "sam.signer@example.org" not in page.content()
    assert "Sam" not in page.content()
    screenshot(page, "mail-1-preview")

    # A typo in a merge field is refused, with the field named and the text kept.
    page.get_by_label("Message").fill("Hi {{ frist_name }}")
    page.get_by_role("button", name="Save changes and preview").click()
    expect(page.get_by_role("alert").filter(has_text="frist_name")).to_be_visible()
    assert page.get_by_label("Message").input_value() == "Hi {{ frist_name }}"
    screenshot(page, "mail-2-merge-field-error")
    page.get_by_label("Message").fill("Hi {{ given_name }},\n\nThe council votes on Monday.")
    page.get_by_role("button", name="Save changes and preview").click()

    # A test to herself, then send now after the confirmation.
    page.get_by_role("button", name="Send me a test").click()
    expect(page.get_by_role("status").filter(has_text="A test is on its way")).to_be_visible()
    test = _wait_for_mail(instance.data_dir, "priya@example.org", "[Test] Thank you, Alex")
    assert "Hi Alex" in test.text
    page.get_by_role("link", name="Send now…").click()
    page.get_by_role("button", name="Send to 1 signer").click()
    expect(page.get_by_role("status").filter(has_text="on its way to your signers")).to_be_visible()
    sent = _wait_for_mail(instance.data_dir, "sam.signer@example.org", "Thank you, Sam")
    assert "Hi Sam" in sent.text and "/mail/unsubscribe/" in sent.text

    # The report counts it once the sender has run.
    deadline = time.monotonic() + 30
    while "1</span> sent" not in page.content():
        assert time.monotonic() < deadline, "the report never showed the delivery"
        time.sleep(0.5)
        page.reload()
    screenshot(page, "mail-3-report")
