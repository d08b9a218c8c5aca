"""Events in a real browser on a phone, against a real `groundswell serve` mailing through a
real SMTP server: a host creates a house party, a member finds it by ZIP code and RSVPs, a
second member is waitlisted because it is full, the first cancels from the link in their
email and the second is promoted — and the reminder reaches them through the SMTP sink."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, screenshot
from tests.support.processes import Instance
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.slow

ZONE = "America/Denver"


def _on(base: str, url: str) -> str:
    parts = urlsplit(url)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def _local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


def _mail(smtp: SmtpServer, to: str, subject: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in smtp.messages:
            if to in received.recipients and subject in str(received.message["Subject"]):
                return received.message
        time.sleep(0.2)
    seen = [(r.recipients, str(r.message["Subject"])) for r in smtp.messages]
    raise AssertionError(f"no mail to {to} with {subject!r} after {timeout}s; got {seen}")


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_house_party_rsvp_waitlist_promotion_and_reminder(tmp_path, chromium):
    with SmtpServer() as smtp:
        instance = Instance.create(tmp_path / "instance", SMTP_URL=smtp.url())
        with instance.serve() as server:
            base = server.base_url
            host_context = chromium.new_context(**PHONE)
            page = host_context.new_page()

            # The host signs in (a one-time link) and creates a house party for one guest,
            # starting in just under two hours so that its 2-hour reminder is due.
            link = instance.run_ok("admin", "create", "hana@example.org").last_line
            page.goto(_on(base, link))
            page.get_by_role("button", name="Continue").click()
            page.goto(f"{base}/events/new")
            start = datetime.now(UTC) + timedelta(hours=1, minutes=59)
            page.get_by_label("Title").fill("House party: save the footbridge")
            page.get_by_label("Type of event").select_option(label="House party")
            page.get_by_label("Starts").fill(_local(start))
            page.get_by_label("Ends").fill(_local(start + timedelta(hours=2)))
            page.get_by_label("Time zone").fill(ZONE)
            page.get_by_label("Street address").fill("12 Elm Street")
            page.get_by_label("ZIP code").fill("80203")
            page.get_by_label("Capacity").fill("1")
            page.get_by_role("button", name="Create event").click()
            expect(page.get_by_role("status").filter(has_text="Your event is saved.")).to_be_visible()
            screenshot(page, "events-1-host-dashboard")

            # A member finds it by ZIP code and RSVPs.
            first_context = chromium.new_context(**PHONE)
            first = first_context.new_page()
            first.goto(f"{base}/events")
            first.get_by_label("Your ZIP code").fill("80202")
            first.get_by_label("Within").select_option("10")
            first.get_by_role("button", name="Find events").click()
            expect(first.get_by_text("1 event within 10 miles of 80202")).to_be_visible()
            first.get_by_role("link", name="House party: save the footbridge").first.click()
            first.get_by_label("Your name").fill("Rosa Diaz")
            first.get_by_label("Email", exact=True).fill("rosa@example.org")
            first.get_by_label("ZIP code", exact=True).fill("80202")
            first.get_by_role("button", name="RSVP").click()
            expect(first.get_by_role("heading", name="You're going")).to_be_visible()
            screenshot(first, "events-2-going")

            # A second member finds it full and joins the waitlist.
            second_context = chromium.new_context(**PHONE)
            second = second_context.new_page()
            second.goto(page.url.replace("/host?created=1", ""))
            expect(second.get_by_text("Full — RSVP to join the waitlist")).to_be_visible()
            second.get_by_label("Your name").fill("Sam Lee")
            second.get_by_label("Email", exact=True).fill("sam@example.org")
            second.get_by_role("button", name="Join the waitlist").click()
            expect(second.get_by_role("heading", name="You're on the waitlist")).to_be_visible()
            expect(second.get_by_text("You are number 1 on the waitlist")).to_be_visible()

            # The first cancels from the link in her confirmation email; the second moves in.
            confirmation = _mail(smtp, "rosa@example.org", "You're going")
            manage = re.search(r"https?://\S+/events/rsvp/\S+", _text(confirmation)).group(0)
            first.goto(_on(base, manage))
            first.get_by_role("button", name="Cancel my RSVP").click()
            expect(first.get_by_text("Your RSVP is cancelled")).to_be_visible()
            promoted = _mail(smtp, "sam@example.org", "A place opened up")
            assert "you are now on the list of people going" in _text(promoted)
            assert str(promoted["List-Unsubscribe"]).strip().startswith("<http")

            # The host sees the change.
            page.reload()
            expect(page.get_by_role("cell", name="sam@example.org")).to_be_visible()
            screenshot(page, "events-3-host-after-promotion")

            # The periodic job (once a minute) sends the 2-hour reminder through SMTP.
            reminder = _mail(smtp, "sam@example.org", "Reminder:", timeout=120.0)
            assert "starts in about two hours" in str(reminder["Subject"])
            assert "12 Elm Street" in _text(reminder)
            for context in (host_context, first_context, second_context):
                context.close()
