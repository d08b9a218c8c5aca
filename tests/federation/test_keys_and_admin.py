"""The node's identity (discovery document, fingerprint in the admin area), key rotation and
revocation as a peer experiences them, and the admin's kill switch."""

from __future__ import annotations

import time

from federation.discovery import parse_discovery_document
from federation.events import build_event, build_key_rotation
from federation.identity import load_identity
from federation.keys import generate_node_key
from federation.tables import FederationPeer
from tests.federation.peer_support import FakePeer
from tests.support.accounts import sign_in
from tests.support.forms import submit


async def test_the_discovery_document_is_self_signed_and_names_this_node(client):
    response = await client.get("/.well-known/groundswell")
    assert response.status_code == 200
    document = parse_discovery_document(
        response.content, fetched_from="http://testserver.local", now=time.time()
    )
    identity = load_identity()
    assert document.node_id == identity.node_id and document.role == "instance"
    assert document.document["keys"][0]["fingerprint"] == identity.fingerprint


async def test_the_admin_page_shows_the_fingerprint_and_the_kill_switch_works(client):
    peer = FakePeer.create()
    await peer.pin()
    await sign_in(client, "ada@example.org", role="admin")
    page = await client.get("/admin/federation/")
    assert page.status_code == 200
    assert load_identity().fingerprint in page.text and peer.node_id in page.text
    suspended = await submit(client, "/admin/federation/", f"/admin/federation/peers/{peer.node_id}/suspend")
    assert suspended.status_code == 200 and "suspend" in suspended.text
    row = await FederationPeer.objects().where(FederationPeer.node_id == peer.node_id).first()
    assert row.status == "suspended"
    refused = await peer.send(client, [peer.event("petition.published", peer.petition())])
    assert refused.status_code == 403 and refused.json()["error"] == "peer_suspended"
    await submit(client, "/admin/federation/", f"/admin/federation/peers/{peer.node_id}/unsuspend")
    accepted = await peer.send(client, [peer.event("petition.published", peer.petition())])
    assert accepted.status_code == 200


async def test_the_admin_page_is_for_admins_only(client):
    await sign_in(client, "sam@example.org", role="staff")
    assert (await client.get("/admin/federation/")).status_code in (403, 404)


async def test_a_peer_rotates_its_key_then_revokes_the_old_one(client):
    peer = FakePeer.create()
    await peer.pin()
    old, new = peer.key, generate_node_key()
    now = int(time.time())
    rotation = build_key_rotation(old, new, origin=peer.node_id, created=now, old_key_expires=now + 3600)
    after = build_event("petition.published", peer.petition(), origin=peer.node_id, created=now, keys=[new])
    response = await peer.send(client, [rotation, after])  # transport still signed by the old key
    assert response.json()["results"] == {rotation["id"]: "ok", after["id"]: "ok"}
    peer.key = new
    assert (
        await peer.send(client, [peer.event("petition.updated", peer.petition(version=2))])
    ).status_code == 200
    revoked = build_event(
        "key.revoked", {"key_id": old.key_id, "revoked_at": now}, origin=peer.node_id, created=now, keys=[new]
    )
    assert (await peer.send(client, [revoked])).json()["results"] == {revoked["id"]: "ok"}
    peer.key = old
    refused = await peer.send(client, [peer.event("petition.updated", peer.petition(version=3))])
    assert refused.status_code == 401 and refused.json()["error"] == "key_revoked"


async def test_a_rotation_signed_by_the_new_key_alone_is_refused(client):
    peer = FakePeer.create()
    await peer.pin()
    new = generate_node_key()
    now = int(time.time())
    rotation = build_key_rotation(peer.key, new, origin=peer.node_id, created=now, old_key_expires=now + 3600)
    rotation["signatures"] = [s for s in rotation["signatures"] if s["key_id"] == new.key_id]
    response = await peer.send(client, [rotation])
    assert response.json()["results"][rotation["id"]] in (
        "rotation_unconfirmed",
        "unknown_key",
        "signature_missing",
    )
