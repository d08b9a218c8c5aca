"""“Email your signers”: a leader composes, previews with a real signer's merge fields (given
name only, never an address), sends a test to themselves, sends or schedules, and reads the
report; bad templates and empty audiences are refused with a message; nobody mails the signers
of someone else's petition."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from core.mailings.report import mailing_report
from core.mailings.tables import Mailing
from core.people.tables import Person
from tests.core.mail_pages.helpers import leader_with_petition, newest_mailing, signers, wait_for_mailing
from tests.support.accounts import sign_in
from tests.support.forms import csrf_token_in, submit
from tests.support.mailbox import mails
from tests.support.outbox import wait_for_outbox

LEADER = "lena.leader@example.org"
SUBJECT = "News about the footbridge, {{ given_name }}"
BODY = "Hi {{ given_name }},\n\nThe council meets on Monday. [Ask a friend to sign]({{ petition_url }})."


async def _draft(client, petition, subject: str = SUBJECT, body: str = BODY) -> int:
    base = f"/lead/petitions/{petition.id}/mail"
    response = await submit(
        client, f"{base}/new", f"{base}/new", {"subject": subject, "body": body}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    mailing_id = await newest_mailing()
    assert response.headers["location"] == f"{base}/{mailing_id}?done=saved"
    return mailing_id


async def test_a_leader_never_sees_the_name_of_a_signer_who_did_not_share_it(client):
    petition = await leader_with_petition(client, LEADER)
    await signers(petition, ("Bob Private", "bob.private@example.org"))
    mailing_id = await _draft(client, petition)
    compose = await client.get(f"/lead/petitions/{petition.id}/mail/{mailing_id}")
    assert "With example merge fields" in compose.text
    assert "Hi Alex" in compose.text
    assert f"goes to your own address ({LEADER}), with example merge fields as the preview." in compose.text
    base = f"/lead/petitions/{petition.id}/mail/{mailing_id}"
    assert f'action="{base}/test"' in compose.text and f'action="{base}/schedule"' in compose.text
    for private in ("Bob", "Private", "bob.private@example.org"):
        assert private not in compose.text


async def test_a_leader_emails_their_signers_from_compose_to_report(client, data_dir):
    petition = await leader_with_petition(client, LEADER)
    await signers(petition, ("Ann Shared", "ann.shared@example.org"), share=True)
    await signers(petition, ("Bob Private", "bob.private@example.org"))
    base = f"/lead/petitions/{petition.id}/mail"

    dashboard = await client.get(f"/lead/petitions/{petition.id}")
    assert f'href="{base}"' in dashboard.text, "the dashboard links to “Email your signers”"
    listing = await client.get(base)
    assert "<strong>2</strong> signers can be emailed" in listing.text

    mailing_id = await _draft(client, petition)
    compose = await client.get(f"{base}/{mailing_id}?done=saved")
    assert compose.status_code == 200
    assert "Your draft is saved." in compose.text
    assert "{{ given_name }}" in compose.text, "the merge-field cheat sheet lists the fields"
    # The preview borrows a real signer's merge fields, naming them by given name only.
    assert "As Ann, one of your signers who shared their name with you" in compose.text
    assert "Hi Ann" in compose.text
    assert "News about the footbridge, Ann" in compose.text
    for private in ("ann.shared@example.org", "bob.private@example.org", "Private", "Shared"):
        assert private not in compose.text

    # A test goes to the leader's own address, with the same merge fields.
    tested = await submit(client, f"{base}/{mailing_id}", f"{base}/{mailing_id}/test", follow_redirects=False)
    assert tested.status_code == 303 and tested.headers["location"].endswith("?done=tested")
    await wait_for_outbox(topic="mail.send")
    [test] = [m for m in mails(data_dir) if LEADER in m.to]
    assert test.subject == "[Test] News about the footbridge, Ann"
    assert "Hi Ann" in test.text

    # Send now: the confirmation says how many, then the deliveries go out.
    confirm = await client.get(f"{base}/{mailing_id}/send")
    assert "Send to 2 signers" in confirm.text
    sent = await client.post(
        f"{base}/{mailing_id}/send", data={"_csrf_token": csrf_token_in(confirm.text)}, follow_redirects=False
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"{base}/{mailing_id}/report?done=sent"
    await wait_for_mailing(mailing_id, ("sent",))
    inbox = {m.to: m for m in mails(data_dir) if "footbridge" in m.subject and "[Test]" not in m.subject}
    [ann] = [m for to, m in inbox.items() if "ann.shared@example.org" in to]
    [bob] = [m for to, m in inbox.items() if "bob.private@example.org" in to]
    assert ann.subject == "News about the footbridge, Ann" and "Hi Ann" in ann.text
    assert bob.subject == "News about the footbridge, Bob" and "Hi Bob" in bob.text
    assert f"source=mail-{mailing_id}" in bob.text or "/mail/c/" in bob.text, "links are tracked"

    report = await client.get(f"{base}/{mailing_id}/report?done=sent")
    assert report.status_code == 200
    assert "Your email is on its way to your signers." in report.text
    numbers = dict(re.findall(r'<span class="number">([\d,]+)</span> ([a-z ()]+)</div>', report.text))
    assert numbers["2"] in ("recipients", "sent") and "sent" in numbers.values()
    totals = (await mailing_report(mailing_id)).totals
    assert (totals.recipients, totals.sent, totals.failed) == (2, 2, 0)
    assert '<span class="number">2</span> sent' in report.text
    listing = await client.get(base)
    assert re.search(r"<span class=\"status status-sent\">sent</span>", listing.text)


async def test_an_unknown_merge_field_is_refused_with_the_field_named_and_the_text_kept(client):
    petition = await leader_with_petition(client, "leo.leader@example.org")
    await signers(petition, ("Cleo", "cleo@example.org"))
    base = f"/lead/petitions/{petition.id}/mail"
    page = await client.get(f"{base}/new")
    response = await client.post(
        f"{base}/new",
        data={
            "_csrf_token": csrf_token_in(page.text),
            "subject": "Hello",
            "body": "Dear {{ frist_name }}, thanks!",
        },
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "frist_name" in response.text and "is not a merge field" in response.text
    assert "Dear {{ frist_name }}, thanks!" in response.text, "what was typed is shown again"
    assert await Mailing.count() == 0


async def test_a_draft_whose_template_broke_shows_the_problem_and_cannot_be_sent(client, data_dir):
    petition = await leader_with_petition(client, "lara.leader@example.org")
    await signers(petition, ("Dora", "dora.broken@example.org"))
    mailing_id = await _draft(client, petition)
    # A draft saved before a merge field was renamed, say: the pages must still refuse it.
    await Mailing.update({Mailing.body: "Hi {{ nickname }}"}).where(Mailing.id == mailing_id)
    base = f"/lead/petitions/{petition.id}/mail/{mailing_id}"
    compose = await client.get(base)
    assert "This email cannot be sent until you fix this" in compose.text
    assert "{{ nickname }} in the body is not a merge field" in compose.text
    confirm = await client.get(f"{base}/send")
    assert "cannot be sent until you fix" in confirm.text and "Send to" not in confirm.text
    refused = await client.post(
        f"{base}/send", data={"_csrf_token": csrf_token_in(compose.text)}, follow_redirects=False
    )
    assert refused.status_code == 400
    assert "nickname" in refused.text
    assert (await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first())["status"] == "draft"
    assert not [m for m in mails(data_dir) if "dora.broken@example.org" in m.to]


async def test_a_petition_nobody_can_be_emailed_about_refuses_to_send_with_a_clear_message(client):
    petition = await leader_with_petition(client, "lina.leader@example.org")
    await signers(petition, ("Eve", "eve.gone@example.org"))
    await Person.update({Person.subscription: "unsubscribed"}).where(Person.email == "eve.gone@example.org")
    mailing_id = await _draft(client, petition)
    base = f"/lead/petitions/{petition.id}/mail/{mailing_id}"
    confirm = await client.get(f"{base}/send")
    assert "Nobody can receive it yet" in confirm.text
    refused = await client.post(
        f"{base}/send", data={"_csrf_token": csrf_token_in(confirm.text)}, follow_redirects=False
    )
    assert refused.status_code == 400
    assert "Nobody in this audience can be mailed" in refused.text
    assert (await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first())["status"] == "draft"


async def test_scheduling_refuses_a_past_time_and_accepts_a_future_one_then_cancels(client):
    petition = await leader_with_petition(client, "lou.leader@example.org")
    await signers(petition, ("Fay", "fay@example.org"))
    mailing_id = await _draft(client, petition)
    base = f"/lead/petitions/{petition.id}/mail/{mailing_id}"
    page = await client.get(base)
    assert 'type="datetime-local"' in page.text and "time in UTC" in page.text
    token = csrf_token_in(page.text)
    past = await client.post(
        f"{base}/schedule", data={"_csrf_token": token, "when": "2020-01-01T09:00"}, follow_redirects=False
    )
    assert past.status_code == 400
    assert "That time has already passed" in past.text
    assert 'value="2020-01-01T09:00"' in past.text, "the time typed is shown again"
    garbage = await client.post(
        f"{base}/schedule", data={"_csrf_token": token, "when": "next tuesday"}, follow_redirects=False
    )
    assert garbage.status_code == 400 and "not a date and time" in garbage.text

    when = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    scheduled = await client.post(
        f"{base}/schedule",
        data={"_csrf_token": token, "when": when.strftime("%Y-%m-%dT%H:%M")},
        follow_redirects=False,
    )
    assert scheduled.status_code == 303
    row = await Mailing.select(Mailing.status, Mailing.scheduled_for).where(Mailing.id == mailing_id).first()
    assert row["status"] == "scheduled" and row["scheduled_for"] == when
    page = await client.get(scheduled.headers["location"])
    assert "Your email is scheduled." in page.text and when.strftime("%Y-%m-%d at %H:%M") in page.text
    cancelled = await client.post(
        f"{base}/cancel", data={"_csrf_token": csrf_token_in(page.text)}, follow_redirects=False
    )
    assert cancelled.status_code == 303
    assert (await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first())[
        "status"
    ] == "cancelled"


async def test_a_leader_cannot_mail_the_signers_of_another_leaders_petition(client, app):
    theirs = await leader_with_petition(
        client, "owner.leader@example.org", title="Save the Elm Street library"
    )
    their_mailing = await _draft(client, theirs)
    await sign_in(client, "other.leader@example.org", "leader")
    for path in (
        f"/lead/petitions/{theirs.id}/mail",
        f"/lead/petitions/{theirs.id}/mail/new",
        f"/lead/petitions/{theirs.id}/mail/{their_mailing}",
        f"/lead/petitions/{theirs.id}/mail/{their_mailing}/report",
    ):
        assert (await client.get(path)).status_code == 403, path
    own = await leader_with_petition(client, "other.leader@example.org", title="Fix the Oak Road crossing")
    page = await client.get(f"/lead/petitions/{own.id}/mail/new")
    token = csrf_token_in(page.text)
    posted = await client.post(
        f"/lead/petitions/{theirs.id}/mail/new",
        data={"_csrf_token": token, "subject": "Hi", "body": "Hello"},
        follow_redirects=False,
    )
    assert posted.status_code == 403
    sent = await client.post(
        f"/lead/petitions/{theirs.id}/mail/{their_mailing}/send",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    assert sent.status_code == 403
    # Their mailing is not reachable through one's own petition either.
    assert (await client.get(f"/lead/petitions/{own.id}/mail/{their_mailing}")).status_code == 404
    assert await Mailing.count().where(Mailing.petition == own.id) == 0
    # Staff may help with any petition.
    await sign_in(client, "sam.staff@example.org", "staff")
    assert (await client.get(f"/lead/petitions/{theirs.id}/mail/{their_mailing}")).status_code == 200


async def test_members_are_turned_away_and_posts_without_a_csrf_token_fail(client):
    petition = await leader_with_petition(client, "lee.leader@example.org")
    assert (
        await client.post(
            f"/lead/petitions/{petition.id}/mail/new", data={"subject": "x"}, follow_redirects=False
        )
    ).status_code == 403
    await sign_in(client, "max.member@example.org", "member")
    assert (await client.get(f"/lead/petitions/{petition.id}/mail")).status_code == 403
