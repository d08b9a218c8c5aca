"""Staff mailings: the audience builder and its recipient count, an A/B subject test from the
form to the winner's send and the per-variant report, the circuit breaker halting a test slice
that unsubscribes, halt/resume, empty audiences, bad input kept on the form, saved audiences."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.mailings.jobs import watch_sending_mailings
from core.mailings.report import mailing_report
from core.mailings.suppression import unsubscribe
from core.mailings.tables import Delivery, Mailing, SavedAudience
from core.people.emails import email_key
from core.people.tables import Person, Tag, Tagging
from core.people.tags import create_tag
from core.petitions.signing import SignatureInput, sign
from tests.core.mail_pages.helpers import newest_mailing, wait_for_mailing
from tests.support.accounts import sign_in
from tests.support.forms import csrf_token_in
from tests.support.mailbox import mails
from tests.support.petitions import published_petition

STAFF = "stella.staff@example.org"
NEW = "/staff/mailings/new"


async def tagged_members(tag_name: str, count: int, prefix: str, *, region: str = "") -> Tag:
    tag = await create_tag(tag_name)
    for i in range(count):
        email = f"{prefix}{i}@example.org"
        [row] = await Person.insert(
            Person(email=email, email_key=email_key(email), given_name=f"Vol{i}", region=region)
        ).returning(Person.id)
        await Tagging.insert(Tagging(tag=tag.id, person=row["id"]))
    return tag


def ab_form(tag: Tag | int, **changes: str) -> dict[str, str]:
    form = {
        "audience_kind": "tag",
        "audience_tag": str(tag if isinstance(tag, int) else tag.id),
        "exclude_mailed_days": "0",
        "topic": "campaigns",
        "from_name": "Riverside Council",
        "reply_to": "council@example.org",
        "subject_a": "The footbridge vote is Monday",
        "subject_b": "{{ given_name }}, one click for the footbridge",
        "body": "Hi {{ given_name }},\n\nPlease sign: https://testserver.local/p/footbridge",
        "test_percent": "50",
        "window_hours": "0",
        "window_minutes": "10",
        "max_unsubscribe_percent": "2",
        "max_bounce_percent": "5",
        "action": "save",
    }
    form.update(changes)
    return form


async def post(client, action: str, form: dict[str, str], page: str = NEW):
    shown = await client.get(page)
    return await client.post(
        action, data={"_csrf_token": csrf_token_in(shown.text), **form}, follow_redirects=False
    )


async def _window_closes(mailing_id: int) -> None:
    """The test window (seconds here) passes, and the watcher job runs as the worker would."""
    await asyncio.sleep(2.1)
    await watch_sending_mailings(None)


async def test_staff_run_an_ab_test_from_the_form_to_the_winner_and_the_report(client, data_dir):
    await sign_in(client, STAFF, "staff")
    tag = await tagged_members("footbridge-volunteers", 40, "abvol")

    # The audience builder counts recipients without saving anything.
    counted = await post(client, NEW, ab_form(tag, action="count"))
    assert counted.status_code == 200
    assert "<strong>40</strong> recipients" in counted.text
    assert "Members tagged “footbridge-volunteers”" in counted.text
    assert 'value="{{ given_name }}, one click for the footbridge"' in counted.text, (
        "the form keeps its input"
    )
    assert await Mailing.count() == 0

    saved = await post(client, NEW, ab_form(tag))
    assert saved.status_code == 303, saved.text
    mailing_id = await newest_mailing()
    assert saved.headers["location"] == f"/staff/mailings/{mailing_id}?done=saved"
    page = await client.get(saved.headers["location"])
    assert "Variant A: The footbridge vote is Monday" in page.text
    assert "Variant B: Vol" in page.text and "one click for the footbridge" in page.text
    assert "A copy of each subject line goes to your own address (" in page.text
    assert f'action="/staff/mailings/{mailing_id}/schedule"' in page.text

    # A test goes to the staff member's own address.
    tested = await post(
        client, f"/staff/mailings/{mailing_id}/test", {}, page=f"/staff/mailings/{mailing_id}"
    )
    assert tested.status_code == 303

    # The window is ten minutes at least on the form; the test shortens it to seconds.
    await Mailing.update({Mailing.test_window_seconds: 2}).where(Mailing.id == mailing_id)
    confirm = await client.get(f"/staff/mailings/{mailing_id}/send")
    assert "Send to 40 recipients" in confirm.text and "A/B test of 2 subject lines" in confirm.text
    sent = await client.post(
        f"/staff/mailings/{mailing_id}/send",
        data={"_csrf_token": csrf_token_in(confirm.text)},
        follow_redirects=False,
    )
    assert sent.headers["location"] == f"/staff/mailings/{mailing_id}/report?done=testing"
    await wait_for_mailing(mailing_id, ("testing",))
    slice_rows = await Delivery.select(Delivery.person, Delivery.variant).where(
        (Delivery.mailing == mailing_id) & (Delivery.status == "sent")
    )
    assert len(slice_rows) == 20
    assert (
        await Delivery.count().where((Delivery.mailing == mailing_id) & (Delivery.status == "waiting")) == 20
    )
    testing = await client.get(f"/staff/mailings/{mailing_id}/report")
    assert "The winner is picked when the window closes" in testing.text

    # Two B recipients sign through the email's links: B wins on actions per delivery.
    petition = await published_petition("Reopen the Riverside footbridge")
    b_people = [r["person"] for r in slice_rows if r["variant"] == "B"][:2]
    for person_id in b_people:
        person = await Person.select(Person.email).where(Person.id == person_id).first()
        await sign(
            petition.id, SignatureInput(name="Vol", email=person["email"], source=f"mail-{mailing_id}-B")
        )

    await _window_closes(mailing_id)
    await wait_for_mailing(mailing_id, ("sent",))
    report = await mailing_report(mailing_id)
    assert report.winner == "B"
    assert report.totals.sent == 40 and report.totals.actions == 2
    rows = {v.label: v for v in report.variants}
    assert rows["B"].sent == 30 and rows["A"].sent == 10
    remainder = [
        m for m in mails(data_dir) if "abvol" in m.to and "one click for the footbridge" in m.subject
    ]
    assert len(remainder) == 30, "the rest got the winner's subject"

    page = await client.get(f"/staff/mailings/{mailing_id}/report")
    assert "Winner: <strong>variant B</strong>, sent to the rest." in page.text
    assert '<span class="status status-published">winner</span>' in page.text
    assert "Not tripped." in page.text
    listing = await client.get("/staff/mailings?status=sent")
    assert "(A/B test: B won)" in listing.text


async def test_the_circuit_breaker_halts_a_test_slice_that_unsubscribes_and_staff_can_resume(client):
    await sign_in(client, STAFF, "staff")
    tag = await tagged_members("breaker-test", 40, "brk")
    assert (await post(client, NEW, ab_form(tag))).status_code == 303
    mailing_id = await newest_mailing()
    confirm = await client.get(f"/staff/mailings/{mailing_id}/send")
    await client.post(f"/staff/mailings/{mailing_id}/send", data={"_csrf_token": csrf_token_in(confirm.text)})
    await wait_for_mailing(mailing_id, ("testing",))
    slice_people = await Delivery.select(Delivery.person).where(
        (Delivery.mailing == mailing_id) & (Delivery.status == "sent")
    )
    for row in slice_people[:2]:  # 2 of 20: 10%, above the 2% limit
        await unsubscribe(row["person"], mailing_id=mailing_id, via="test")
    await watch_sending_mailings(None)
    row = await Mailing.select(Mailing.status, Mailing.halted_reason).where(Mailing.id == mailing_id).first()
    assert row["status"] == "halted" and "circuit breaker" in row["halted_reason"]

    page = await client.get(f"/staff/mailings/{mailing_id}/report")
    assert "Halted by the circuit breaker" in page.text and "Resume" in page.text
    resumed = await client.post(
        f"/staff/mailings/{mailing_id}/resume",
        data={"_csrf_token": csrf_token_in(page.text)},
        follow_redirects=False,
    )
    assert resumed.status_code == 303
    page = await client.get(resumed.headers["location"])
    assert "The mailing is sending again." in page.text and "Halted earlier, then resumed" in page.text
    halted = await client.post(
        f"/staff/mailings/{mailing_id}/halt",
        data={"_csrf_token": csrf_token_in(page.text), "reason": "Wrong date in the text"},
        follow_redirects=False,
    )
    assert halted.status_code == 303
    row = await Mailing.select(Mailing.status, Mailing.halted_reason).where(Mailing.id == mailing_id).first()
    assert (row["status"], row["halted_reason"]) == ("halted", "Wrong date in the text")


async def test_an_empty_audience_is_refused_with_a_clear_message(client):
    await sign_in(client, STAFF, "staff")
    tag = await create_tag("nobody-yet")
    counted = await post(client, NEW, ab_form(tag, action="count"))
    assert "<strong>0</strong> recipients" in counted.text
    assert (await post(client, NEW, ab_form(tag, subject_b=""))).status_code == 303
    mailing_id = await newest_mailing()
    confirm = await client.get(f"/staff/mailings/{mailing_id}/send")
    assert "Nobody is in this audience" in confirm.text and "Send to" not in confirm.text
    refused = await client.post(
        f"/staff/mailings/{mailing_id}/send",
        data={"_csrf_token": csrf_token_in(confirm.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 400
    assert "Nobody in this audience can be mailed" in refused.text
    assert (await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first())["status"] == "draft"


async def test_bad_input_is_shown_next_to_the_form_with_what_was_typed(client):
    await sign_in(client, STAFF, "staff")
    tag = await create_tag("form-checks")
    cases = [
        ({"subject_a": "", "subject_b": ""}, "Write a subject line"),
        ({"test_percent": "75"}, "The test slice (%) must be between 5 and 50"),
        ({"window_minutes": "1"}, "Let the test run between 10 minutes and 7 days"),
        ({"max_bounce_percent": "lots"}, "The bounce limit (%) must be a number"),
        ({"audience_kind": "region", "audience_region": ""}, "The region: type one"),
        (
            {"audience_kind": "postal_prefix", "audience_postal_prefix": "9%"},
            "Enter the start of a postal code",
        ),
        ({"audience_kind": "tag", "audience_tag": "999999"}, "There is no such tag"),
        ({"body": "Hi {{ frist_name }}"}, "{{ frist_name }} in the body is not a merge field"),
        ({"reply_to": "not-an-address"}, "Reply-to"),
        ({"audience_kind": "everyone"}, "Choose who receives the mailing"),
    ]
    for changes, message in cases:
        response = await post(client, NEW, ab_form(tag, **changes))
        assert 400 <= response.status_code < 500, (changes, response.status_code)
        assert message in response.text, (changes, message)
        assert "Riverside Council" in response.text, "the form keeps what was typed"
    assert await Mailing.count() == 0


async def test_staff_schedule_a_mailing_and_past_times_are_refused(client):
    await sign_in(client, STAFF, "staff")
    tag = await tagged_members("schedule-test", 3, "sch")
    assert (await post(client, NEW, ab_form(tag, subject_b=""))).status_code == 303
    mailing_id = await newest_mailing()
    page_url = f"/staff/mailings/{mailing_id}"
    past = await post(client, f"{page_url}/schedule", {"when": "2001-02-03T04:05"}, page=page_url)
    assert past.status_code == 400 and "That time has already passed" in past.text
    when = (datetime.now(UTC) + timedelta(hours=5)).replace(second=0, microsecond=0)
    scheduled = await post(
        client, f"{page_url}/schedule", {"when": when.strftime("%Y-%m-%dT%H:%M")}, page=page_url
    )
    assert scheduled.status_code == 303
    row = await Mailing.select(Mailing.status, Mailing.scheduled_for).where(Mailing.id == mailing_id).first()
    assert (row["status"], row["scheduled_for"]) == ("scheduled", when)
    listing = await client.get("/staff/mailings?status=scheduled")
    assert f'href="/staff/mailings/{mailing_id}"' in listing.text


async def test_saved_audiences_are_saved_listed_used_and_deleted(client):
    await sign_in(client, STAFF, "staff")
    await tagged_members("ohio-volunteers", 3, "ohio", region="OH")
    await tagged_members("texas-volunteers", 2, "tex", region="TX")
    page = await client.get("/staff/audiences")
    saved = await client.post(
        "/staff/audiences",
        data={
            "_csrf_token": csrf_token_in(page.text),
            "audience_name": "Ohio members",
            "audience_kind": "region",
            "audience_region": "OH",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    listing = await client.get("/staff/audiences?done=audience-saved")
    assert "The audience is saved." in listing.text and "Ohio members" in listing.text
    assert "Ohio members (members in OH)" in listing.text and "<td>3</td>" in listing.text
    again = await client.post(
        "/staff/audiences",
        data={
            "_csrf_token": csrf_token_in(listing.text),
            "audience_name": "Ohio members",
            "audience_kind": "all",
        },
    )
    assert again.status_code == 400 and "already a saved audience called “Ohio members”" in again.text

    # The mailing form offers it, counts it, and its own “save this audience” button works too.
    saved_id = (await SavedAudience.select(SavedAudience.id).first())["id"]
    texas = (await Tag.select(Tag.id).where(Tag.name == "texas-volunteers").first())["id"]
    counted = await post(
        client, NEW, ab_form(texas, audience_kind="saved", audience_saved=str(saved_id), action="count")
    )
    assert "<strong>3</strong> recipients" in counted.text and "Ohio members" in counted.text
    kept = await post(client, NEW, ab_form(texas, action="save_audience", audience_name="Texas volunteers"))
    assert kept.status_code == 200 and "The audience is saved as “Texas volunteers”." in kept.text
    assert await SavedAudience.count() == 2

    # A draft that uses a saved audience keeps it from being deleted.
    assert (
        await post(client, NEW, ab_form(texas, audience_kind="saved", audience_saved=str(saved_id)))
    ).status_code == 303
    listing = await client.get("/staff/audiences")
    in_use = await client.post(
        f"/staff/audiences/{saved_id}/delete",
        data={"_csrf_token": csrf_token_in(listing.text)},
        follow_redirects=False,
    )
    assert in_use.status_code == 409 and "uses this audience" in in_use.text
    await Mailing.update({Mailing.audience: {"all": True}}).where(Mailing.id == await newest_mailing())
    deleted = await client.post(
        f"/staff/audiences/{saved_id}/delete",
        data={"_csrf_token": csrf_token_in(listing.text)},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert await SavedAudience.count() == 1
    missing = await client.post(
        f"/staff/audiences/{saved_id}/delete",
        data={"_csrf_token": csrf_token_in(listing.text)},
        follow_redirects=False,
    )
    assert missing.status_code == 404


async def test_leaders_cannot_reach_staff_mailings(client):
    await sign_in(client, "lars.leader@example.org", "leader")
    for path in ("/staff/mailings", NEW, "/staff/audiences"):
        assert (await client.get(path)).status_code == 403, path
