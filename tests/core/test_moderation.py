"""Moderation: the pre-/post-moderation queue, rejection reasons emailed to the creator,
members' abuse reports, the policy note, and who may do what."""

import secrets
from email import policy
from email.parser import BytesParser

import pytest

from core.errors import Conflict, NotFound, TooManyRequests, UserError
from core.instance_settings import get_policy, set_policy
from core.moderation import queue, rate_limits, reports
from core.moderation.tables import AbuseReport
from core.people.service import get_or_create_person
from core.petitions.service import PetitionInput, TargetInput, create_petition, get_petition, submit_petition
from core.settings import current_settings
from tests.support.accounts import sign_in
from tests.support.forms import submit
from tests.support.outbox import wait_for_outbox
from tests.support.petitions import published_petition


async def member_petition(title: str = "Plant trees along Station Road", *, email: str | None = None):
    """A petition started by a member (not staff), submitted under the current policy."""
    email = email or f"creator-{secrets.token_hex(4)}@example.org"
    person, _ = await get_or_create_person(email, given_name="Cora", family_name="Creator")
    draft = await create_petition(
        PetitionInput(
            title=title,
            body="Station Road has no shade at all. Plant twenty trees before next summer, please.",
            targets=[TargetInput(name="Riverside Council")],
        ),
        creator_id=person.id,
    )
    return await submit_petition(draft.id), email


def mails_to(address: str) -> list:
    """Messages the file backend wrote for `address`, oldest first."""
    parser = BytesParser(policy=policy.default)
    found = []
    for path in sorted(current_settings().mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = parser.parsebytes(path.read_bytes())
        if address in str(message["To"]):
            found.append(message)
    return found


# --- The queue ---------------------------------------------------------------------------


async def test_under_pre_moderation_a_members_petition_waits_and_approval_publishes_it(client):
    await set_policy("moderation", "pre")
    petition, email = await member_petition()
    assert petition.status == "pending"
    assert (await client.get(f"/p/{petition.slug}")).status_code == 404

    await sign_in(client, "staff@example.org", "staff")
    queue_page = await client.get("/staff/moderation")
    assert queue_page.status_code == 200
    assert petition.title in queue_page.text
    assert "Waiting for review (1)" in queue_page.text

    approved = await submit(
        client, "/staff/moderation", f"/staff/moderation/petitions/{petition.id}/approve", {}
    )
    assert approved.status_code == 200
    assert "is published" in approved.text
    assert (await get_petition(petition.id)).status == "published"
    assert (await client.get(f"/p/{petition.slug}")).status_code == 200
    await wait_for_outbox()
    [mail] = mails_to(email)
    assert "published" in mail["Subject"]


async def test_rejecting_emails_the_creator_the_reason(client):
    await set_policy("moderation", "pre")
    petition, email = await member_petition()
    await sign_in(client, "staff@example.org", "staff")
    rejected = await submit(
        client,
        "/staff/moderation",
        f"/staff/moderation/petitions/{petition.id}/reject",
        {"reason": "It names a private person. Address the council instead."},
    )
    assert rejected.status_code == 200
    assert "emailed the reason" in rejected.text
    stored = await get_petition(petition.id)
    assert stored.status == "rejected"
    assert stored.rejection_reason == "It names a private person. Address the council instead."
    await wait_for_outbox()
    [mail] = mails_to(email)
    assert mail["Subject"] == f"Your petition was not published: {petition.title}"
    assert "It names a private person. Address the council instead." in mail.get_content()
    assert "Hello Cora" in mail.get_content()


async def test_the_rejection_email_is_queued_once_per_decision():
    await set_policy("moderation", "pre")
    petition, _ = await member_petition()
    rejected = await queue.reject(petition.id, "Off topic for this site.")
    from core.outbox.tables import OutboxItem

    keys = [row["key"] for row in await OutboxItem.select(OutboxItem.key)]
    assert keys == [f"moderation:rejected:{petition.id}:{rejected.version}"]


async def test_under_post_moderation_a_members_petition_is_published_at_once():
    assert await get_policy("moderation") == "post"
    petition, _ = await member_petition()
    assert petition.status == "published"
    assert await queue.pending_petitions() == []


async def test_the_policy_note_heads_the_queue_and_the_start_page(client):
    await set_policy("policy_note", "We welcome local campaigns.\nNo petitions about <i>private</i> people.")
    start = await client.get("/start/")
    assert "No petitions about &lt;i&gt;private&lt;/i&gt; people." in start.text
    await sign_in(client, "staff@example.org", "staff")
    page = await client.get("/staff/moderation")
    assert "No petitions about &lt;i&gt;private&lt;/i&gt; people." in page.text


@pytest.mark.parametrize(
    "reason, message",
    [
        ("", "Say why the petition is rejected"),
        ("   ", "Say why the petition is rejected"),
        ("x" * 2001, "at most 2000"),
    ],
)
async def test_a_rejection_needs_a_reason_of_sensible_length(client, reason, message):
    await set_policy("moderation", "pre")
    petition, _ = await member_petition()
    await sign_in(client, "staff@example.org", "staff")
    response = await submit(
        client, "/staff/moderation", f"/staff/moderation/petitions/{petition.id}/reject", {"reason": reason}
    )
    assert response.status_code == 400
    assert message in response.text
    assert (await get_petition(petition.id)).status == "pending"


async def test_deciding_on_unknown_or_already_decided_petitions_says_so(client):
    await set_policy("moderation", "pre")
    petition, _ = await member_petition()
    await sign_in(client, "staff@example.org", "staff")
    unknown = await submit(client, "/staff/moderation", "/staff/moderation/petitions/999999/approve", {})
    assert unknown.status_code == 404
    assert "no such petition" in unknown.text
    await submit(client, "/staff/moderation", f"/staff/moderation/petitions/{petition.id}/approve", {})
    again = await submit(
        client, "/staff/moderation", f"/staff/moderation/petitions/{petition.id}/approve", {}
    )
    assert again.status_code == 409
    assert "waiting for review" in again.text


# --- Reports -----------------------------------------------------------------------------


async def test_anyone_can_report_a_petition_from_its_page(client):
    petition = await published_petition()
    page = await client.get(f"/p/{petition.slug}")
    assert f'href="/p/{petition.slug}/report"' in page.text
    sent = await submit(
        client,
        f"/p/{petition.slug}/report",
        f"/p/{petition.slug}/report",
        {"reason": "This petition spreads false claims about a named teacher."},
    )
    assert sent.status_code == 200
    assert "Thank you" in sent.text
    report = await AbuseReport.objects().first()
    assert (report.petition, report.status, report.reporter) == (petition.id, "open", None)


async def test_a_signed_in_members_report_records_who_reported(client):
    petition = await published_petition()
    await sign_in(client, "member@example.org", "member")
    await submit(
        client,
        f"/p/{petition.slug}/report",
        f"/p/{petition.slug}/report",
        {"reason": "Hateful language here."},
    )
    report = await AbuseReport.objects().first()
    member, _ = await get_or_create_person("member@example.org")
    assert report.reporter == member.id


@pytest.mark.parametrize(
    "reason, message",
    [("", "at least 10 characters"), ("bad", "at least 10 characters"), ("x" * 2001, "at most 2000")],
)
async def test_a_report_needs_a_reason_of_sensible_length(client, reason, message):
    petition = await published_petition()
    response = await submit(
        client, f"/p/{petition.slug}/report", f"/p/{petition.slug}/report", {"reason": reason}
    )
    assert response.status_code == 400
    assert message in response.text
    assert await AbuseReport.count() == 0


async def test_reports_on_unknown_or_unpublished_petitions_are_not_found(client):
    await set_policy("moderation", "pre")
    pending, _ = await member_petition()
    assert (await client.get("/p/no-such-petition/report")).status_code == 404
    assert (await client.get(f"/p/{pending.slug}/report")).status_code == 404
    with pytest.raises(NotFound):
        await reports.file_report(pending.id, "A reason long enough.", reporter_id=None, ip="198.51.100.1")


async def test_reports_from_one_address_are_rate_limited(monkeypatch):
    monkeypatch.setattr(rate_limits, "clock", lambda: 1_800_000_030.0)  # mid-window
    petition = await published_petition()
    for _ in range(rate_limits.REPORTS_PER_IP.allowed):
        await reports.file_report(petition.id, "A reason long enough.", reporter_id=None, ip="198.51.100.1")
    with pytest.raises(TooManyRequests, match="many reports from your internet connection"):
        await reports.file_report(petition.id, "A reason long enough.", reporter_id=None, ip="198.51.100.1")
    await reports.file_report(petition.id, "Another address, fine.", reporter_id=None, ip="198.51.100.2")
    assert await AbuseReport.count() == rate_limits.REPORTS_PER_IP.allowed + 1


async def test_staff_dismiss_a_report_and_the_petition_stays(client):
    petition = await published_petition()
    report_id = await reports.file_report(petition.id, "I just disagree with it.", reporter_id=None, ip="")
    await sign_in(client, "staff@example.org", "staff")
    page = await client.get("/staff/moderation")
    assert "I just disagree with it." in page.text
    done = await submit(client, "/staff/moderation", f"/staff/moderation/reports/{report_id}/dismiss", {})
    assert "report is dismissed" in done.text
    report = await AbuseReport.objects().first()
    assert report.status == "dismissed" and report.resolved_by is not None
    assert (await get_petition(petition.id)).status == "published"
    again = await submit(client, "/staff/moderation", f"/staff/moderation/reports/{report_id}/dismiss", {})
    assert again.status_code == 409
    assert "already dismissed" in again.text


async def test_an_upheld_report_takes_a_published_petition_down_and_emails_the_reason(client):
    petition, email = await member_petition()  # post-moderation: published at once
    first = await reports.file_report(petition.id, "It targets a private person.", reporter_id=None, ip="")
    second = await reports.file_report(petition.id, "Harassment of a neighbour.", reporter_id=None, ip="")
    await sign_in(client, "staff@example.org", "staff")
    done = await submit(
        client,
        "/staff/moderation",
        f"/staff/moderation/reports/{first}/uphold",
        {"reason": "Petitions may not target private people."},
    )
    assert "taken down" in done.text
    assert (await get_petition(petition.id)).status == "rejected"
    assert (await client.get(f"/p/{petition.slug}")).status_code == 404
    statuses = {r["id"]: r["status"] for r in await AbuseReport.select(AbuseReport.id, AbuseReport.status)}
    assert statuses == {first: "upheld", second: "upheld"}
    await wait_for_outbox()
    [mail] = mails_to(email)
    assert mail["Subject"] == f"Your petition has been taken down: {petition.title}"
    assert "Petitions may not target private people." in mail.get_content()


async def test_upholding_needs_a_reason_and_an_open_report(client):
    petition = await published_petition()
    report_id = await reports.file_report(petition.id, "Misleading numbers.", reporter_id=None, ip="")
    with pytest.raises(UserError, match="Say why"):
        await queue.uphold_report(report_id, "  ", login_id=None)
    with pytest.raises(NotFound):
        await queue.uphold_report(999_999, "A reason.", login_id=None)
    await queue.dismiss_report(report_id, login_id=None)
    with pytest.raises(Conflict):
        await queue.uphold_report(report_id, "A reason.", login_id=None)
    assert (await get_petition(petition.id)).status == "published"


async def test_the_report_honeypot_thanks_bots_and_stores_nothing(client):
    petition = await published_petition()
    response = await submit(
        client,
        f"/p/{petition.slug}/report",
        f"/p/{petition.slug}/report",
        {"reason": "Buy cheap watches now!!!", "website": "http://spam.example"},
    )
    assert response.status_code == 200
    assert await AbuseReport.count() == 0


# --- Policies ----------------------------------------------------------------------------


async def test_admins_set_the_moderation_mode_confirmation_and_policy_note(client):
    await sign_in(client, "admin@example.org", "admin")
    saved = await submit(
        client,
        "/admin/policies",
        "/admin/policies",
        {
            "moderation": "pre",
            "confirm_signatures": "1",
            "policy_note": "Be kind.\r\nStay local.",
            "trusted_ips": "198.51.100.0/24",
        },
    )
    assert saved.status_code == 200
    assert "policies are saved" in saved.text
    assert await get_policy("moderation") == "pre"
    assert await get_policy("confirm_signatures") is True
    assert await get_policy("policy_note") == "Be kind.\nStay local."
    assert await get_policy("trusted_ips") == "198.51.100.0/24"
    assert "Stay local." in saved.text


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"moderation": "sometimes"}, "Choose pre-moderation or post-moderation"),
        ({"policy_note": "x" * 5001}, "under 5,000 characters"),
        ({"trusted_ips": "10.0.0.1\nnot-an-ip"}, "Line 2"),
    ],
)
async def test_bad_policy_values_are_refused_and_nothing_is_saved(client, fields, message):
    await sign_in(client, "admin@example.org", "admin")
    form = {"moderation": "pre", "policy_note": "A note.", **fields}
    response = await submit(client, "/admin/policies", "/admin/policies", form)
    assert response.status_code == 400
    assert message in response.text
    assert await get_policy("moderation") == "post"
    assert await get_policy("policy_note") == ""


# --- Who may do what ---------------------------------------------------------------------

STAFF_PAGES = ["/staff/moderation", "/staff/petitions/{id}/abuse"]


@pytest.mark.parametrize("path", STAFF_PAGES)
async def test_members_are_refused_staff_pages_and_visitors_are_sent_to_sign_in(client, path):
    petition = await published_petition()
    path = path.format(id=petition.id)
    anonymous = await client.get(path, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    await sign_in(client, "member@example.org", "member")
    member = await client.get(path)
    assert member.status_code == 403
    assert "staff account" in member.text


async def test_members_cannot_approve_or_reject(client):
    await set_policy("moderation", "pre")
    petition, _ = await member_petition()
    await sign_in(client, "leader@example.org", "leader")
    response = await submit(client, "/account/", f"/staff/moderation/petitions/{petition.id}/approve", {})
    assert response.status_code == 403
    assert (await get_petition(petition.id)).status == "pending"


async def test_only_admins_set_policies(client):
    await sign_in(client, "staff@example.org", "staff")
    assert (await client.get("/admin/policies")).status_code == 403
    page = await client.get("/staff/moderation")
    assert 'href="/staff/moderation"' in page.text  # the nav link
