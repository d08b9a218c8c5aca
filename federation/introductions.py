"""Key introduction: how an instance learns the keys of nodes it never paired with.

An instance pins only its hub, yet the hub relays events signed by other instances. So the
hub introduces every peer to every other approved instance with `node.listed` (signed by the
hub): the node's id, origin, role, current, old and revoked keys, a monotonic `version`, and
`listed` (false once the peer is suspended). It sends one when a peer is approved or
unsuspended, after it applied the peer's `key.rotated` or `key.revoked`, and when it suspends
the peer.

An instance keeps introduced nodes in their own table, never among its peers: the transport
key store is built from peers alone, so an introduced key can never authenticate a request.
Its only use is `verify_relayed`: an event whose origin is not the sender is accepted when the
sender is this instance's active hub and the origin is an introduced, listed node whose key
(valid when the event was created) verifies it. A hub accepts no relayed events at all.
"""

from __future__ import annotations

import json
import time
from typing import Any

from core.plugin_api import transaction
from federation.errors import FederationError
from federation.events import Event, verify_event
from federation.identity import load_identity
from federation.keyring import KeyEntry, KeyRing, PinnedKeyStore
from federation.keys import b64url_encode
from federation.outbound import queue_event, stable_event_id
from federation.peers import get_peer, keystore, ring_of
from federation.publishing import approved_instances
from federation.tables import FederationIntroducedNode, FederationNodeListing, FederationPeer

__all__ = [
    "apply_listing",
    "introduced_keystore",
    "keys_changed",
    "listing_payload",
    "peer_status_changed",
    "verify_relayed",
]


# --- hub side --------------------------------------------------------------------------------


def listing_payload(peer: FederationPeer, version: int, listed: bool) -> dict[str, Any]:
    """The `node.listed` payload for a peer, from the keys the hub has pinned for it."""
    ring = ring_of(peer)

    def key(entry: KeyEntry) -> dict[str, Any]:
        return {"key_id": entry.key_id, "public_key": b64url_encode(entry.public_key)}

    return {
        "node_id": peer.node_id,
        "origin": peer.origin,
        "role": peer.role,
        "keys": [key(e) for e in ring.with_status("current")],
        "old_keys": [key(e) | {"expires": int(e.expires or 0)} for e in ring.with_status("old")],
        "revoked_keys": [
            key(e) | {"revoked_at": int(e.revoked_at or 0)} for e in ring.with_status("revoked")
        ],
        "version": version,
        "listed": listed,
    }


ANNOUNCEMENTS_LOCK = 0x67736E6C  # "gsnl": a PostgreSQL advisory lock key of this module's own


async def _one_at_a_time() -> None:
    """Approvals, suspensions and key changes each announce several nodes in one transaction.
    Two at once would lock the same listing rows in opposite orders (a deadlock on PostgreSQL,
    seen with two `approve` commands run together) and could read the same version and give
    two announcements one event id. So they take turns, for the rest of the transaction.
    SQLite needs nothing: its write transactions already take turns."""
    if FederationNodeListing._meta.db.engine_type == "postgres":
        await FederationNodeListing.raw("SELECT pg_advisory_xact_lock({})", ANNOUNCEMENTS_LOCK)


async def _next_version(node_id: str, listed: bool, now: float) -> int:
    """Every announcement about a node gets the next version, so receivers keep the latest."""
    row = await FederationNodeListing.objects().where(FederationNodeListing.node_id == node_id).first()
    if row is None:
        await FederationNodeListing.insert(
            FederationNodeListing(node_id=node_id, version=1, listed=listed, updated_at=now)
        )
        return 1
    version = row.version + 1
    await FederationNodeListing.update(
        {
            FederationNodeListing.version: version,
            FederationNodeListing.listed: listed,
            FederationNodeListing.updated_at: now,
        }
    ).where(FederationNodeListing.id == row.id)
    return version


async def _announce(peer: FederationPeer, recipients: list[str], now: float) -> None:
    recipients = [r for r in recipients if r != peer.node_id]
    if not recipients:
        return
    listed = peer.status == "active"
    version = await _next_version(peer.node_id, listed, now)
    hub = load_identity(now).node_id
    await queue_event(
        "node.listed",
        listing_payload(peer, version, listed),
        recipients,
        event_id=stable_event_id(hub, "node.listed", peer.node_id, version),
        now=now,
    )


async def _announceable(node_id: str, now: float) -> FederationPeer | None:
    """The peer, if this node is the hub and the peer an approved instance (a pending one is
    introduced to nobody)."""
    if load_identity(now).role != "hub":
        return None
    peer = await get_peer(node_id)
    if peer is None or peer.role != "instance" or peer.status == "pending":
        return None
    return peer


async def peer_status_changed(node_id: str, now: float | None = None) -> None:
    """(hub) A peer was approved, unsuspended or suspended: tell the other instances, and
    give a newly active one every other node's keys and the current state of every petition."""
    now = time.time() if now is None else now
    peer = await _announceable(node_id, now)
    if peer is None:
        return
    from federation.relay import send_current_state  # relay builds on this module

    async with transaction():
        await _one_at_a_time()
        others = [n for n in await approved_instances() if n != node_id]
        await _announce(peer, others, now)
        if peer.status != "active":
            return
        for other in await FederationPeer.objects().where(
            (FederationPeer.role == "instance") & (FederationPeer.status == "active")
        ):
            if other.node_id != node_id:
                await _announce(other, [node_id], now)
        await send_current_state(node_id, others, now)


async def keys_changed(node_id: str, now: float | None = None) -> None:
    """(hub) After applying a peer's key.rotated or key.revoked: its new keys to the others."""
    now = time.time() if now is None else now
    peer = await _announceable(node_id, now)
    if peer is None:
        return
    async with transaction():
        await _one_at_a_time()
        await _announce(peer, await approved_instances(), now)


# --- instance side ---------------------------------------------------------------------------


def _ring_of_listing(payload: dict[str, Any]) -> KeyRing:
    try:
        entries = [KeyEntry.from_json({**k, "status": "current"}) for k in payload["keys"]]
        entries += [KeyEntry.from_json({**k, "status": "old"}) for k in payload["old_keys"]]
        entries += [KeyEntry.from_json({**k, "status": "revoked"}) for k in payload["revoked_keys"]]
    except ValueError as exc:
        raise FederationError(400, "document_invalid", f"node.listed: {exc}") from None
    ids = [e.key_id for e in entries]
    if len(set(ids)) != len(ids):
        raise FederationError(400, "document_invalid", "node.listed names a key twice")
    return KeyRing.of(entries)


async def apply_listing(event: Event, now: float) -> str:
    """node.listed on an instance: from its hub only, about a node that is neither this node
    nor one of its peers, with keys no peer owns; kept if its version is newer."""
    if load_identity(now).role == "hub":
        raise FederationError(
            403, "role_mismatch", "a hub pins its peers itself; node.listed is for instances"
        )
    hub = await get_peer(event.origin)
    if hub is None or hub.role != "hub" or hub.status != "active":
        raise FederationError(403, "role_mismatch", "only this instance's active hub introduces nodes")
    payload = event.payload
    node_id = payload["node_id"]
    if node_id == load_identity(now).node_id or await get_peer(node_id) is not None:
        raise FederationError(
            403, "node_mismatch", f"{node_id} is this node or a paired peer, not introduced"
        )
    ring = _ring_of_listing(payload)
    pinned = await keystore()
    if any(pinned.owner_of(key_id) is not None for key_id in ring.entries):
        raise FederationError(403, "node_mismatch", f"a key introduced for {node_id} belongs to a peer")
    existing = (
        await FederationIntroducedNode.objects().where(FederationIntroducedNode.node_id == node_id).first()
    )
    if existing is not None and payload["version"] <= existing.version:
        return "ok"  # an older or repeated introduction
    values = {
        FederationIntroducedNode.origin: payload["origin"],
        FederationIntroducedNode.role: payload["role"],
        FederationIntroducedNode.keys: json.dumps(ring.to_json()),
        FederationIntroducedNode.version: payload["version"],
        FederationIntroducedNode.listed: payload["listed"],
        FederationIntroducedNode.introduced_by: event.origin,
        FederationIntroducedNode.updated_at: now,
    }
    if existing is None:
        await FederationIntroducedNode.insert(
            FederationIntroducedNode(node_id=node_id, **{c._meta.name: v for c, v in values.items()})
        )
    else:
        await FederationIntroducedNode.update(values).where(FederationIntroducedNode.id == existing.id)
    return "ok"


async def introduced_keystore(node_id: str) -> PinnedKeyStore:
    """The keys of one introduced, listed node, for checking the events the hub relays from
    it. Deliberately separate from `peers.keystore()`, which authenticates requests."""
    store = PinnedKeyStore()
    row = await FederationIntroducedNode.objects().where(FederationIntroducedNode.node_id == node_id).first()
    if row is not None and row.listed:
        store.pin(node_id, KeyRing.from_json(json.loads(row.keys or "[]")))
    return store


async def verify_relayed(envelope: dict[str, Any], sender: str) -> Event:
    """An event whose origin is not the node that sent it: accepted only by an instance, from
    its active hub, for an introduced and listed origin whose key verifies it."""
    if load_identity().role == "hub":
        raise FederationError(
            403, "relay_refused", "a hub accepts events only from their origin; send your own events"
        )
    hub = await get_peer(sender)
    if hub is None or hub.role != "hub" or hub.status != "active":
        raise FederationError(
            403, "relay_refused", f"only this instance's hub relays; {sender} may send only its own events"
        )
    store = await introduced_keystore(envelope["origin"])
    if store.ring(envelope["origin"]) is None:
        raise FederationError(
            403, "relay_refused", f"origin {envelope['origin']} has not been introduced here (node.listed)"
        )
    return verify_event(envelope, store)
