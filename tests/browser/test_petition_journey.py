"""A campaign's life in a real browser on a phone: start → publish → sign → dashboard → PDF."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.support.mailbox import mail_to

pytestmark = pytest.mark.slow


def test_start_publish_sign_and_deliver_on_a_phone(live, phone):
    instance, server = live
    page = phone
    base = server.base_url

    # A visitor starts a petition: title first, then the rest of the form.
    page.goto(f"{base}/start")
    page.get_by_label("What do you want to change?").fill("Reopen the Riverside footbridge")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Name (required)").fill("Jane Mayor")
    page.get_by_label("Title or position").first.fill("Mayor of Riverside")
    page.get_by_label("What do you ask, and why?").fill(
        "The footbridge has been closed for two years. **Reopen it** so children can walk to school."
    )
    page.get_by_label("Your name").fill("Priya Patel")
    page.get_by_label("Your email").fill("priya@example.org")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Your draft is saved")).to_be_visible()

    # The emailed link signs her in and leads to her draft, which she publishes.
    link = re.search(r"https?://\S+/login/\S+", mail_to(instance.data_dir, "priya@example.org").text)
    page.goto(link.group(0))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Publish").click()
    screenshot(page, "journey-1-dashboard-published")
    public_link = page.get_by_role("link", name=re.compile("public page", re.I)).first
    petition_url = public_link.get_attribute("href")

    # A supporter signs on their phone, in one form and one request.
    supporter = page.context.browser.new_context(**{"viewport": {"width": 390, "height": 844}})
    signer = supporter.new_page()
    signer.goto(petition_url if petition_url.startswith("http") else base + petition_url)
    screenshot(signer, "journey-2-petition-on-phone")
    signer.get_by_label("Your name", exact=True).fill("Sam Signer")
    signer.get_by_label("Email", exact=True).fill("sam@example.org")
    signer.get_by_label("Postal code", exact=True).fill("AB1 2CD")
    signer.get_by_label("Share my name and postal code with the petition's creator").check()
    signer.get_by_role("button", name="Sign").click()
    expect(signer.get_by_role("heading", name="Thank you for signing")).to_be_visible()
    screenshot(signer, "journey-3-thanks")
    supporter.close()

    # Back on the dashboard, the leader sees the signature and downloads the delivery packet.
    page.reload()
    expect(page.get_by_text("Sam").first).to_be_visible()
    pdf_href = page.get_by_role("link", name=re.compile("PDF", re.I)).first.get_attribute("href")
    response = page.request.get(pdf_href if pdf_href.startswith("http") else base + pdf_href)
    assert response.ok
    assert response.body().startswith(b"%PDF")
