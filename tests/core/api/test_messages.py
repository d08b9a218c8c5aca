"""OSDI messages: staff tokens list, read, create and change mailings, and send them through the
send helper (now, or scheduled) or the schedule helper; targets map to audiences; statistics
come from the mailing's report; bad input is a 4xx naming the problem."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from core.mailings.tables import Delivery, Mailing
from core.people.emails import email_key
from core.people.tables import Person, Tagging
from core.people.tags import create_tag
from core.petitions.signing import SignatureInput, sign
from tests.support.petitions import published_petition

API = "http://testserver.local/api/v1/"


async def tagged(name: str, *emails: str) -> int:
    tag = await create_tag(name)
    for email in emails:
        [row] = await Person.insert(
            Person(email=email, email_key=email_key(email), given_name=email.split("@")[0].title())
        ).returning(Person.id)
        await Tagging.insert(Tagging(tag=tag.id, person=row["id"]))
    return tag.id


def message(tag_id: int, **changes) -> dict:
    body = {
        "name": "Footbridge update",
        "subject": "Monday's vote, {{ given_name }}",
        "body": "Hi {{ given_name }}, the council votes on Monday.",
        "from": "Riverside Council",
        "reply_to": "council@example.org",
        "type": "email",
        "targets": [{"href": f"{API}tags/{tag_id}"}],
    }
    body.update(changes)
    return body


async def wait_sent(mailing_id: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while (await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first())["status"] != "sent":
        assert time.monotonic() < deadline, "the message was not sent in time"
        await asyncio.sleep(0.1)


async def test_a_staff_token_creates_reads_changes_and_sends_a_message(client, token):
    staff = await token("staff")
    tag_id = await tagged("api-news", "ann.api@example.org", "bob.api@example.org")

    created = await client.post("/api/v1/messages", json=message(tag_id), headers=staff)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/hal+json")
    resource = created.json()
    mailing_id = int(resource["identifiers"][0].split(":")[1])
    assert resource["status"] == "draft" and resource["type"] == "email"
    assert resource["from"] == "Riverside Council" and resource["reply_to"] == "council@example.org"
    assert resource["targets"] == [{"href": f"{API}tags/{tag_id}"}]
    assert resource["audience"] == {"tag": tag_id}
    assert resource["total_targeted"] == 2
    links = resource["_links"]
    assert links["self"]["href"] == f"{API}messages/{mailing_id}"
    assert links["osdi:send_helper"]["href"] == f"{API}messages/{mailing_id}/send"
    assert links["osdi:schedule_helper"]["href"] == f"{API}messages/{mailing_id}/schedule"
    assert "osdi:creator" in links

    changed = await client.put(
        f"/api/v1/messages/{mailing_id}", json={"subject": "Vote on Monday, {{ given_name }}"}, headers=staff
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["subject"] == "Vote on Monday, {{ given_name }}"
    assert changed.json()["body"] == "Hi {{ given_name }}, the council votes on Monday."

    listing = (await client.get("/api/v1/messages", headers=staff)).json()
    assert listing["total_records"] == 1
    assert listing["_links"]["osdi:messages"] == [{"href": f"{API}messages/{mailing_id}"}]
    assert listing["_embedded"]["osdi:messages"][0]["subject"].startswith("Vote on Monday")

    sent = await client.post(f"/api/v1/messages/{mailing_id}/send", headers=staff)
    assert sent.status_code == 200, sent.text
    assert sent.json()["notice"] == "Your message is being sent to 2 people."
    await wait_sent(mailing_id)
    shown = (await client.get(f"/api/v1/messages/{mailing_id}", headers=staff)).json()
    assert shown["status"] == "sent" and shown["sent_start_date"] and shown["sent_end_date"]
    assert shown["statistics"]["sent"] == 2
    assert shown["statistics"]["unsubscribed"] == 0 and shown["statistics"]["bounced"] == 0

    again = await client.post(f"/api/v1/messages/{mailing_id}/send_helper", headers=staff)
    assert again.status_code == 409
    frozen = await client.put(f"/api/v1/messages/{mailing_id}", json={"subject": "Too late"}, headers=staff)
    assert frozen.status_code == 409


async def test_the_entry_point_links_messages_for_staff(client, token):
    staff = await token("staff")
    links = (await client.get("/api/v1/", headers=staff)).json()["_links"]
    assert links["osdi:messages"]["href"] == f"{API}messages"
    assert (await client.get(links["osdi:messages"]["href"], headers=staff)).status_code == 200


async def test_petition_targets_mean_its_signers_and_actions_count_signatures_from_the_message(client, token):
    staff = await token("staff")
    petition = await published_petition("Reopen the Riverside footbridge")
    await sign(petition.id, SignatureInput(name="Cy Signer", email="cy.api@example.org"))
    created = await client.post(
        "/api/v1/messages",
        json={
            "subject": "Thanks for signing “{{ petition_title }}”",
            "message": "Share it: {{ petition_url }}",
            "targets": [{"href": f"{API}petitions/{petition.id}/signatures"}],
        },
        headers=staff,
    )
    assert created.status_code == 201, created.text
    resource = created.json()
    mailing_id = int(resource["identifiers"][0].split(":")[1])
    assert resource["audience"] == {"petition": petition.id}
    assert resource["_links"]["osdi:petition"]["href"] == f"{API}petitions/{petition.id}"
    await client.post(f"/api/v1/messages/{mailing_id}/send", json={}, headers=staff)
    await wait_sent(mailing_id)
    other = await published_petition("Light the Riverside underpass")
    await sign(other.id, SignatureInput(name="Di", email="di.api@example.org", source=f"mail-{mailing_id}"))
    stats = (await client.get(f"/api/v1/messages/{mailing_id}", headers=staff)).json()["statistics"]
    assert (stats["sent"], stats["actions"]) == (1, 1)


async def test_the_send_helper_schedules_with_a_time_and_the_schedule_helper_cancels(client, token):
    staff = await token("staff")
    tag_id = await tagged("api-later", "eve.api@example.org")
    mailing_id = int(
        (await client.post("/api/v1/messages", json=message(tag_id), headers=staff))
        .json()["identifiers"][0]
        .split(":")[1]
    )
    when = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    scheduled = await client.post(
        f"/api/v1/messages/{mailing_id}/send",
        json={"scheduled_start_date": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
        headers=staff,
    )
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["message"]["status"] == "scheduled"
    assert scheduled.json()["message"]["scheduled_start_date"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    cancelled = await client.delete(f"/api/v1/messages/{mailing_id}/schedule", headers=staff)
    assert cancelled.status_code == 200
    assert cancelled.json()["notice"] == "Your message scheduling has been canceled."
    assert cancelled.json()["message"]["status"] == "stopped"
    assert cancelled.json()["message"]["groundswell_status"] == "cancelled"
    assert await Delivery.count() == 0


async def test_a_draft_can_be_deleted_but_a_scheduled_or_cancelled_message_is_kept(client, token):
    staff = await token("staff")
    tag_id = await tagged("api-drafts", "fay.api@example.org")

    async def new_message() -> int:
        created = await client.post(
            "/api/v1/messages",
            json=message(tag_id, variants=["Vote on Monday"], test_fraction=0.2),
            headers=staff,
        )
        return int(created.json()["identifiers"][0].split(":")[1])

    draft = await new_message()
    deleted = await client.delete(f"/api/v1/messages/{draft}", headers=staff)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"notice": "This message was successfully deleted."}
    assert (await client.get(f"/api/v1/messages/{draft}", headers=staff)).status_code == 404
    assert (await client.delete(f"/api/v1/messages/{draft}", headers=staff)).status_code == 404

    kept = await new_message()
    when = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await client.post(f"/api/v1/messages/{kept}/schedule", json={"scheduled_start_date": when}, headers=staff)
    refused = await client.delete(f"/api/v1/messages/{kept}", headers=staff)
    assert refused.status_code == 409
    assert "Only a draft can be deleted; this message is scheduled" in refused.json()["message"]
    assert (await client.get(f"/api/v1/messages/{kept}", headers=staff)).status_code == 200
    leader = await token("leader")
    assert (await client.delete(f"/api/v1/messages/{kept}", headers=leader)).status_code == 403


async def test_bad_messages_are_refused_with_a_message_naming_the_problem(client, token):
    staff = await token("staff")
    tag_id = await tagged("api-bad", "fay.api@example.org")
    empty_tag = await tagged("api-empty")
    cases = [
        ({**message(tag_id), "subject": 5}, 400, "subject: expected text"),
        (
            {k: v for k, v in message(tag_id).items() if k != "subject"},
            400,
            "subject: this field is required",
        ),
        (
            message(tag_id, body="Hi {{ frist_name }}"),
            400,
            "{{ frist_name }} in the body is not a merge field",
        ),
        (message(tag_id, type="sms"), 400, "email messages only"),
        (message(tag_id, targets=[]), 400, "give exactly one target"),
        (
            message(tag_id, targets=[{"href": "https://elsewhere.example/lists/3"}]),
            400,
            "not a target this server",
        ),
        (message(tag_id, targets=[{"href": f"{API}tags/999999"}]), 404, "There is no such tag"),
        (message(tag_id, audience={"region": "OH"}), 400, "either targets or an audience"),
        ({**message(tag_id), "targets": None}, 400, "give one target"),
        (message(tag_id, audience={"postal_prefix": "9%"}, targets=None), 400, "start of a postal code"),
        (message(tag_id, variants=["B subject"], test_fraction=0.9), 400, "test them on 5% to 50%"),
    ]
    for body, status, text in cases:
        response = await client.post("/api/v1/messages", json=body, headers=staff)
        assert response.status_code == status, (body, response.text)
        assert text in response.json()["message"], (text, response.json())
    assert await Mailing.count() == 0
    assert (await client.post("/api/v1/messages", content=b"", headers=staff)).status_code == 400

    # The send helper refuses an empty audience and a bad time, and the draft stays a draft.
    created = await client.post("/api/v1/messages", json=message(empty_tag), headers=staff)
    mailing_id = int(created.json()["identifiers"][0].split(":")[1])
    empty = await client.post(f"/api/v1/messages/{mailing_id}/send", headers=staff)
    assert empty.status_code == 400 and "Nobody in this audience can be mailed" in empty.json()["message"]
    for when, text in (("soon", "not an ISO 8601 time"), ("2030-01-01T10:00:00", "give the timezone")):
        bad = await client.post(
            f"/api/v1/messages/{mailing_id}/schedule", json={"scheduled_start_date": when}, headers=staff
        )
        assert bad.status_code == 400 and text in bad.json()["message"]
    past = await client.post(
        f"/api/v1/messages/{mailing_id}/schedule",
        json={"scheduled_start_date": "2001-01-01T00:00:00Z"},
        headers=staff,
    )
    assert past.status_code == 400 and "in the future" in past.json()["message"]
    not_json = await client.post(f"/api/v1/messages/{mailing_id}/send", content=b"{nope", headers=staff)
    assert not_json.status_code == 400
    assert (await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first())["status"] == "draft"


async def test_messages_need_a_staff_token_and_unknown_ids_are_404(client, token):
    assert (await client.get("/api/v1/messages")).status_code == 401
    assert (await client.get("/api/v1/messages", headers=await token("leader"))).status_code == 403
    staff = await token("staff")
    for path in ("/api/v1/messages/424242", "/api/v1/messages/99999999999999"):
        assert (await client.get(path, headers=staff)).status_code == 404
    assert (await client.post("/api/v1/messages/424242/send", headers=staff)).status_code == 404
    assert (
        await client.put("/api/v1/messages/424242", json={"subject": "x"}, headers=staff)
    ).status_code == 404
