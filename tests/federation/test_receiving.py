"""Receiving transactions through the real endpoint (in-process app): copies of federated
petitions, idempotency, one transaction in flight per peer, ordering, and failures."""

from __future__ import annotations

import asyncio

import pytest

from core.accounts.api_tokens import create_api_token
from core.accounts.logins import ensure_login
from core.petitions.counter import total
from core.petitions.tables import Petition
from federation import inbound
from federation.tables import FederationCountSample, FederationPeer, FederationSeenEvent
from tests.federation.peer_support import FakePeer


@pytest.fixture
async def peer() -> FakePeer:
    node = FakePeer.create()
    await node.pin()
    return node


async def _copy(peer: FakePeer, local_id: str = "p-1") -> Petition | None:
    return (
        await Petition.objects()
        .where((Petition.origin_node == peer.node_id) & (Petition.origin_id == local_id))
        .first()
    )


async def test_a_published_petition_becomes_a_copy_that_osdi_lists_with_its_origin(client, peer):
    response = await peer.send(
        client,
        [
            peer.event("petition.published", peer.petition()),
            peer.event("petition.counts", peer.counts("p-1", 1, 120)),
        ],
    )
    assert response.status_code == 200, response.text
    assert set(response.json()["results"].values()) == {"ok"}
    copy = await _copy(peer)
    assert copy is not None and copy.status == "published" and copy.title == "Save the river library (v1)"
    assert await total(copy.id) == 120
    login = await ensure_login("staff@example.org", "staff")
    token = (await create_api_token(login.id, "t")).secret
    listed = await client.get("/api/v1/petitions", headers={"OSDI-API-Token": token})
    item = next(p for p in listed.json()["_embedded"]["osdi:petitions"] if p["title"] == copy.title)
    assert item["origin_system"] == peer.node_id
    assert item["total_signatures"] == 120
    assert f"{peer.node_id}:p-1" in item["identifiers"]


async def test_a_withdrawn_petition_is_hidden_and_shown_again_when_the_origin_republishes(client, peer):
    await peer.send(client, [peer.event("petition.published", peer.petition())])
    withdrawn = {
        "petition": {"origin": peer.node_id, "id": "p-1"},
        "version": 2,
        "closed_at": 1_760_000_100,
        "status": "withdrawn",
    }
    response = await peer.send(client, [peer.event("petition.closed", withdrawn)])
    assert set(response.json()["results"].values()) == {"ok"}, response.text
    copy = await _copy(peer)
    assert copy.status == "rejected"
    assert (await client.get(f"/p/{copy.slug}")).status_code == 404
    assert "Save the river library" not in (await client.get("/petitions")).text
    await peer.send(client, [peer.event("petition.updated", peer.petition(version=3))])
    assert (await _copy(peer)).status == "published"
    assert (await client.get(f"/p/{copy.slug}")).status_code == 200


async def test_a_copy_our_staff_took_down_stays_down_when_the_origin_edits_it(client, peer):
    from core.moderation.queue import reject

    await peer.send(client, [peer.event("petition.published", peer.petition())])
    await reject((await _copy(peer)).id, "Targets a private person.")
    await peer.send(client, [peer.event("petition.updated", peer.petition(version=2, title="Edited"))])
    copy = await _copy(peer)
    assert (copy.status, copy.title) == ("rejected", "Edited")
    assert (await client.get(f"/p/{copy.slug}")).status_code == 404


async def test_a_duplicate_delivery_has_one_effect(client, peer):
    events = [
        peer.event("petition.published", peer.petition()),
        peer.event("petition.counts", peer.counts("p-1", 1, 7)),
    ]
    first = await peer.send(client, events, txn_id="txn-duplicate-1")
    again = await peer.send(client, events, txn_id="txn-duplicate-1")  # a retry, freshly signed
    other_txn = await peer.send(client, events)  # the same events in another transaction
    assert first.status_code == again.status_code == other_txn.status_code == 200
    assert again.json() == first.json()
    assert await Petition.count().where(Petition.origin_node == peer.node_id) == 1
    assert await FederationCountSample.count() == 1
    assert await FederationSeenEvent.count() == 2


async def test_a_push_and_a_catch_up_applying_the_same_event_at_once_have_one_effect(client, peer):
    from core.outbox import transaction
    from federation.peers import keystore

    await peer.send(client, [peer.event("petition.published", peer.petition())])
    report = peer.event("petition.counts", peer.counts("p-1", 1, 9))
    store = await keystore()

    async def apply() -> dict[str, str]:
        async with transaction():
            results = await inbound.apply_events([report], store, 1_760_000_000, sender=peer.node_id)
            await asyncio.sleep(0.05)  # hold the transaction open while the other one tries
            return results

    first, second = await asyncio.gather(apply(), apply())
    assert set(first.values()) == set(second.values()) == {"ok"}
    assert await FederationCountSample.count() == 1


async def test_a_refused_event_leaves_no_mark_and_its_genuine_copy_is_applied_later(client, peer):
    genuine = peer.event("petition.published", peer.petition())
    forged = {
        **genuine,
        "payload": {**genuine["payload"], "petition": {**genuine["payload"]["petition"], "title": "Forged"}},
    }
    refused = await peer.send(client, [forged])
    assert set(refused.json()["results"].values()) == {"signature_invalid"}
    assert await FederationSeenEvent.count() == 0
    accepted = await peer.send(client, [genuine])
    assert set(accepted.json()["results"].values()) == {"ok"}
    assert (await _copy(peer)).title == "Save the river library (v1)"


async def test_the_same_idempotency_key_with_a_different_body_is_a_409(client, peer):
    first = await peer.send(
        client, [peer.event("petition.published", peer.petition())], txn_id="txn-conflict-1"
    )
    assert first.status_code == 200
    changed = await peer.send(
        client, [peer.event("petition.published", peer.petition("p-2"))], txn_id="txn-conflict-1"
    )
    assert changed.status_code == 409, changed.text
    assert changed.json()["error"] == "idempotency_conflict"
    assert await _copy(peer, "p-2") is None


async def test_a_second_transaction_while_one_is_in_flight_gets_429(client, peer):
    await FederationPeer.update(
        {FederationPeer.in_txn: "txn-in-flight", FederationPeer.in_lease_until: 2e10}
    ).where(FederationPeer.node_id == peer.node_id)
    busy = await peer.send(client, [peer.event("petition.published", peer.petition())])
    assert busy.status_code == 429, busy.text
    assert busy.json()["error"] == "rate_limited" and busy.headers["retry-after"].isdigit()
    same = await peer.send(
        client, [peer.event("petition.published", peer.petition())], txn_id="txn-in-flight"
    )
    assert same.status_code == 409 and same.json()["error"] == "transaction_in_progress"
    assert await _copy(peer) is None


async def test_concurrent_transactions_from_one_peer_are_one_at_a_time(client, peer, monkeypatch):
    import asyncio

    original = inbound.apply_events

    async def slow(*args, **kwargs):
        await asyncio.sleep(0.5)
        return await original(*args, **kwargs)

    monkeypatch.setattr(inbound, "apply_events", slow)
    responses = await asyncio.gather(
        peer.send(client, [peer.event("petition.published", peer.petition("p-1"))]),
        peer.send(client, [peer.event("petition.published", peer.petition("p-2"))]),
    )
    assert sorted(r.status_code for r in responses) == [200, 429], [r.text for r in responses]


async def test_out_of_order_versions_and_report_sequences_are_harmless(client, peer):
    closed = peer.event(
        "petition.closed",
        {
            "petition": {"origin": peer.node_id, "id": "p-1"},
            "version": 4,
            "closed_at": 1_760_000_100,
            "status": "closed",
        },
    )
    for events in (
        [peer.event("petition.updated", peer.petition(version=3))],
        [closed],
        [peer.event("petition.published", peer.petition(version=1))],
        [peer.event("petition.counts", peer.counts("p-1", 5, 100))],
        [peer.event("petition.counts", peer.counts("p-1", 4, 90))],
        [peer.event("petition.updated", peer.petition(version=2))],
    ):
        response = await peer.send(client, events)
        assert response.status_code == 200, response.text
    copy = await _copy(peer)
    assert copy.title == "Save the river library (v3)" and copy.version == 3
    assert copy.status == "closed"
    assert await total(copy.id) == 100


async def test_a_close_that_overtakes_the_text_is_applied_when_the_text_arrives(client, peer):
    closed = peer.event(
        "petition.closed",
        {
            "petition": {"origin": peer.node_id, "id": "p-1"},
            "version": 2,
            "closed_at": 1_760_000_100,
            "status": "delivered",
        },
    )
    assert (await peer.send(client, [closed])).status_code == 200
    assert (await peer.send(client, [peer.event("petition.published", peer.petition())])).status_code == 200
    assert (await _copy(peer)).status == "delivered"


async def test_a_receiver_failing_after_its_work_then_answering_has_one_effect(client, peer, monkeypatch):
    failures = []

    def fail_once(txn):
        if not failures:
            failures.append(txn.txn_id)
            raise RuntimeError("the response was lost")

    monkeypatch.setattr(inbound, "after_commit_hook", fail_once)
    events = [
        peer.event("petition.published", peer.petition()),
        peer.event("petition.counts", peer.counts("p-1", 1, 9)),
    ]
    first = await peer.send(client, events, txn_id="txn-lost-response")
    assert first.status_code == 500
    retried = await peer.send(client, events, txn_id="txn-lost-response")
    assert retried.status_code == 200 and set(retried.json()["results"].values()) == {"ok"}
    assert await Petition.count().where(Petition.origin_node == peer.node_id) == 1
    assert await FederationCountSample.count() == 1


async def test_a_suspended_peer_is_refused_and_a_replay_is_401(client, peer):
    txn_id, body = peer.transaction([peer.event("petition.published", peer.petition())])
    headers = peer.put_headers(txn_id, body)
    ok = await client.put(f"/federation/v1/send/{txn_id}", content=body, headers=headers)
    assert ok.status_code == 200
    replay = await client.put(f"/federation/v1/send/{txn_id}", content=body, headers=headers)
    assert replay.status_code == 401 and replay.json()["error"] == "replay"
    await FederationPeer.update({FederationPeer.status: "suspended"}).where(
        FederationPeer.node_id == peer.node_id
    )
    refused = await peer.send(client, [peer.event("petition.published", peer.petition("p-9"))])
    assert refused.status_code == 403 and refused.json()["error"] == "peer_suspended"


async def test_an_event_forged_in_another_nodes_name_is_refused_alone(client, peer):
    other = FakePeer.create()
    await other.pin()
    forged = other.event("petition.published", other.petition("p-7"))
    forged["origin"] = peer.node_id  # signed by `other`, claiming `peer`
    good = peer.event("petition.published", peer.petition("p-8"))
    response = await peer.send(client, [forged, good])
    assert response.status_code == 200
    assert response.json()["results"] == {forged["id"]: "node_mismatch", good["id"]: "ok"}
    assert await _copy(peer, "p-7") is None
