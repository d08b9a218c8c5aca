"""Sending to a hub (an in-process stub that verifies like a real receiver): petitions and
counts go out signed, a hub offline for days gets everything exactly once with backoff never
above 6 hours, catch-up fills gaps, and nothing that identifies a member ever leaves."""

from __future__ import annotations

import time

import pytest

from core.petitions.service import (
    PetitionInput,
    TargetInput,
    close_petition,
    create_petition,
    submit_petition,
    update_petition,
)
from core.petitions.signing import SignatureInput, sign
from federation import outbound, publishing
from federation.events import assert_no_member_data
from federation.tables import FederationOutbound, FederationPeer
from federation.transactions import BACKOFF_CAP_SECONDS
from tests.federation.hub_stub import StubHub
from tests.support.outbox import wait_for_outbox
from tests.support.petitions import published_petition

DAY = 24 * 3600


@pytest.fixture
async def hub(monkeypatch):
    monkeypatch.setattr(publishing, "COUNTS_DEBOUNCE_SECONDS", 0)  # report at once, not after a burst
    stub = StubHub()
    await stub.pin()
    outbound.set_transport(stub.transport())
    yield stub
    outbound.set_transport(None)


async def _settle() -> None:
    for topic in ("plugin.event.federation", "federation.counts", "federation.deliver"):
        await wait_for_outbox(topic=topic, timeout=20)


async def _queued(peer: str) -> list[str]:
    rows = (
        await FederationOutbound.select(FederationOutbound.event_id)
        .where(FederationOutbound.peer == peer)
        .order_by(FederationOutbound.id)
    )
    return [r["event_id"] for r in rows]


async def test_publishing_updating_closing_and_signing_reach_the_hub_signed(client, hub):
    petition = await published_petition()
    await sign(petition.id, SignatureInput(name="Ann Signer", email="ann@example.org"))
    await _settle()
    await update_petition(
        petition.id,
        PetitionInput(
            title="Fix the Riverside footbridge this year",
            body="The footbridge has been closed for two years. Reopen it now.",
            targets=[TargetInput(name="Jane Mayor", title="Mayor")],
        ),
    )
    await close_petition(petition.id)
    await _settle()
    await outbound.deliver_to_peer(hub.node_id)
    kinds = [e["type"] for e in hub.applied.values()]
    assert kinds.count("petition.published") == 1
    assert "petition.updated" in kinds and "petition.closed" in kinds
    counts = [e["payload"] for e in hub.applied.values() if e["type"] == "petition.counts"]
    assert max(c["signatures"] for c in counts) == 1
    assert all(e["origin"] == hub.instance for e in hub.applied.values())
    assert await FederationOutbound.count().where(FederationOutbound.status != "sent") == 0


async def test_taking_a_published_petition_down_withdraws_it_from_the_hub(client, hub):
    from core.moderation.queue import reject

    petition = await published_petition()
    await _settle()
    await reject(petition.id, "It names a private person; against our policy.")
    await _settle()
    await outbound.deliver_to_peer(hub.node_id)
    [withdrawn] = [e["payload"] for e in hub.applied.values() if e["type"] == "petition.closed"]
    assert withdrawn["status"] == "withdrawn" and withdrawn["petition"]["id"] == str(petition.id)
    assert "private person" not in str(withdrawn)  # the reason stays here


async def test_a_hub_offline_for_three_days_gets_every_event_once_and_catch_up_fills_gaps(client, hub):
    hub.online = False
    petitions = [await published_petition(f"Petition number {n} for the river park") for n in range(3)]
    await _settle()
    now = time.time()
    start, delays = now, []
    updated = False
    while now < start + 3 * DAY:
        await outbound.deliver_to_peer(hub.node_id, now=now)
        peer = await FederationPeer.objects().where(FederationPeer.node_id == hub.node_id).first()
        assert peer.next_attempt_at > now, "a failed delivery schedules a retry"
        delays.append(peer.next_attempt_at - now)
        now = peer.next_attempt_at
        if not updated and now > start + DAY:  # more changes while the hub is away
            await update_petition(
                petitions[0].id,
                PetitionInput(
                    title="Petition number 0 for the river park, amended",
                    body="A longer text that says what we want and why.",
                    targets=[TargetInput(name="Parks board")],
                ),
            )
            await _settle()
            updated = True
    assert len(delays) > 10 and max(delays) <= BACKOFF_CAP_SECONDS
    assert await FederationOutbound.count().where(FederationOutbound.status == "dead") == 0
    queued = await _queued(hub.node_id)
    assert len(queued) >= 7  # 3 published, 3 counts, 1 updated

    hub.online = True
    await outbound.deliver_to_peer(hub.node_id, now=now)
    assert sorted(hub.accepted) == sorted(queued), "every event delivered, none twice"
    assert await FederationOutbound.count().where(FederationOutbound.status == "pending") == 0

    # The hub loses what it received (restored from an old backup) and catches up.
    hub.applied.clear()
    cursor, pulled = "0", []
    while True:
        path = f"/federation/v1/events?since={cursor}"
        page = await client.get(path, headers=hub.peer.get_headers(path))
        assert page.status_code == 200, page.text
        pulled += page.json()["events"]
        if len(page.json()["events"]) < 500:
            break
        cursor = page.json()["next"]
    assert [e["id"] for e in pulled] == queued


async def test_a_refusal_is_a_dead_letter_the_admin_can_retry(client, hub):
    hub.verifier.keys = type(hub.keys)()  # the hub forgot our key: every request is unknown_key
    await published_petition()
    await _settle()
    dead = await outbound.dead_letters()
    assert dead and "unknown_key" in dead[0]["last_error"]
    hub.verifier.keys = hub.keys
    assert await outbound.retry_dead_letters(hub.node_id) == len(dead)
    await outbound.deliver_to_peer(hub.node_id)
    # Every dead letter is delivered now (an event queued meanwhile may go out with them).
    sent = await FederationOutbound.select(FederationOutbound.id).where(FederationOutbound.status == "sent")
    assert {row["id"] for row in dead} <= {row["id"] for row in sent}
    assert await FederationOutbound.count().where(FederationOutbound.status == "dead") == 0


async def test_no_outbound_payload_carries_member_data(client, hub):
    from core.people.tables import Person
    from federation.rotation import revoke_and_announce, rotate_and_announce

    creator = (
        await Person.insert(
            Person(
                email="creator@example.org",
                email_key="creator@example.org",
                given_name="Carla",
                family_name="Creator",
                phone="+1 555 010 2030",
            )
        ).returning(Person.id)
    )[0]["id"]
    petition = await create_petition(
        PetitionInput(
            title="Light the towpath before winter",
            body="The towpath is dark from four o'clock. Put in lights before winter.",
            targets=[
                TargetInput(
                    name="Tom Target",
                    title="Canal trust",
                    phone="+1 555 010 9999",
                    email="tom@canal.example.org",
                    postal_area="RX1",
                )
            ],
        ),
        creator_id=creator,
    )
    await submit_petition(petition.id, trusted=True)
    signer = await sign(
        petition.id,
        SignatureInput(
            name="Sam Signer",
            email="sam@example.org",
            postal_code="RX1 2AB",
            comment="Call me on +1 555 010 4444",
            share_with_creator=True,
        ),
    )
    await update_petition(
        petition.id,
        PetitionInput(
            title="Light the towpath before this winter",
            body="The towpath is dark from four o'clock. Put in lights now.",
            targets=[TargetInput(name="Tom Target", phone="+1 555 010 9999", email="tom@canal.example.org")],
        ),
    )
    await close_petition(petition.id)
    await _settle()
    old, _ = await rotate_and_announce(overlap_seconds=DAY)
    await _settle()
    await revoke_and_announce(old.key_id, reason="test")
    await _settle()
    await outbound.deliver_to_peer(hub.node_id)
    assert await FederationOutbound.count().where(FederationOutbound.status != "sent") == 0
    events = hub.events()
    assert {e["type"] for e in events} >= {
        "petition.published",
        "petition.updated",
        "petition.closed",
        "petition.counts",
        "key.rotated",
        "key.revoked",
    }
    for event in events:
        assert_no_member_data(event["payload"])
    text = "\n".join(b.decode() for b in hub.bodies)
    for secret in (
        "creator@example.org",
        "Carla Creator",
        "555 010 2030",
        "tom@canal.example.org",
        "555 010 9999",
        "sam@example.org",
        "Sam Signer",
        "555 010 4444",
        "RX1 2AB",
        '"person',
        '"creator',
        '"signer',
    ):
        assert secret not in text, secret
    assert f'"id":"{signer.person_id}"' not in text


async def test_a_valid_request_from_a_backed_off_peer_resets_its_backoff(client, hub):
    await FederationPeer.update(
        {FederationPeer.failures: 9, FederationPeer.next_attempt_at: time.time() + 6 * 3600}
    ).where(FederationPeer.node_id == hub.node_id)
    path = "/federation/v1/events?since=0"
    assert (await client.get(path, headers=hub.peer.get_headers(path))).status_code == 200
    peer = await FederationPeer.objects().where(FederationPeer.node_id == hub.node_id).first()
    assert peer.failures == 0 and peer.next_attempt_at == 0.0
    other = StubHub()
    refused = await client.get(path, headers=other.peer.get_headers(path))  # not paired: no reset
    assert refused.status_code == 401 and refused.json()["error"] == "unknown_key"
