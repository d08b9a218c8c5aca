"""Paired nodes in the database: their pinned keys, status and the admin's kill switch.

The verifier needs a synchronous `KeyStore`; it gets an in-memory `PinnedKeyStore` loaded
from this table for each request (a federation has a handful of peers, one small query).
Keys are only ever learned at pairing or from `key.rotated`/`key.revoked` events; nothing
here fetches anything.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from core.plugin_api import Conflict, NotFound, UserError, enqueue
from federation.errors import FederationError
from federation.keyring import KeyRing, PinnedKeyStore
from federation.tables import FederationNonce, FederationOutbound, FederationPeer

STATUSES = ("pending", "active", "suspended")
DELIVER_TOPIC = "federation.deliver"


@dataclass(frozen=True)
class PeerView:
    """What admins see of a peer (CLI `peers --json`, the admin page)."""

    node_id: str
    origin: str
    role: str
    status: str
    fingerprints: list[str]
    failures: int
    next_attempt_at: float
    last_error: str
    last_seen_at: float
    pending: int
    dead: int

    def as_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "origin": self.origin,
            "role": self.role,
            "status": self.status,
            "fingerprints": self.fingerprints,
            "failures": self.failures,
            "next_attempt_at": int(self.next_attempt_at),
            "last_error": self.last_error,
            "last_seen_at": int(self.last_seen_at),
            "pending_events": self.pending,
            "dead_letters": self.dead,
        }


def ring_of(peer: FederationPeer | dict[str, Any]) -> KeyRing:
    keys = peer["keys"] if isinstance(peer, dict) else peer.keys
    return KeyRing.from_json(json.loads(keys or "[]"))


async def get_peer(node_id: str) -> FederationPeer | None:
    return await FederationPeer.objects().where(FederationPeer.node_id == node_id).first()


async def require_peer(node_id: str) -> FederationPeer:
    peer = await get_peer(node_id.strip())
    if peer is None:
        raise NotFound(f"No peer {node_id!r}; `groundswell federation peers` lists them.")
    return peer


async def keystore() -> PinnedKeyStore:
    """Every peer's pinned keys; suspended peers are flagged so the verifier answers 403."""
    store = PinnedKeyStore()
    for peer in await FederationPeer.select():
        store.pin(peer["node_id"], ring_of(peer))
        if peer["status"] == "suspended":
            store.suspend(peer["node_id"])
    return store


async def add_peer(*, node_id: str, origin: str, role: str, ring: KeyRing, status: str, now: float) -> None:
    """Pin a newly paired node. A node already paired cannot be replaced this way: its keys
    change only through key.rotated / key.revoked."""
    if await get_peer(node_id) is not None:
        raise FederationError(409, "already_paired", f"node {node_id} is already paired here")
    # Refuses a key another node already owns (PinnedKeyStore.pin checks ownership).
    store = await keystore()
    try:
        store.pin(node_id, ring)
    except ValueError as exc:
        raise FederationError(409, "already_paired", str(exc)) from None
    await FederationPeer.insert(
        FederationPeer(
            node_id=node_id,
            origin=origin,
            role=role,
            status=status,
            keys=json.dumps(ring.to_json()),
            created_at=now,
            approved_at=now if status == "active" else 0.0,
        )
    )


async def save_ring(node_id: str, ring: KeyRing) -> None:
    await FederationPeer.update({FederationPeer.keys: json.dumps(ring.to_json())}).where(
        FederationPeer.node_id == node_id
    )


async def set_status(node_id: str, status: str, now: float | None = None) -> FederationPeer:
    """approve (pending → active), suspend (the kill switch) and unsuspend (→ active)."""
    if status not in STATUSES:
        raise UserError(f"Status must be one of {', '.join(STATUSES)}.")
    peer = await require_peer(node_id)
    if status == "active" and peer.status == "active":
        raise Conflict(f"{peer.node_id} is already active.")
    values: dict[Any, Any] = {FederationPeer.status: status}
    if status == "active":
        values[FederationPeer.next_attempt_at] = 0.0
        values[FederationPeer.failures] = 0
        if not peer.approved_at:
            values[FederationPeer.approved_at] = time.time() if now is None else now
    await FederationPeer.update(values).where(FederationPeer.id == peer.id)
    if status == "active":
        await wake_delivery(peer.node_id, "status")
    # Imported here: introductions sends events through outbound, which builds on this module.
    from federation.introductions import peer_status_changed

    await peer_status_changed(peer.node_id)
    return await require_peer(peer.node_id)


async def note_valid_request(peer: FederationPeer, now: float) -> None:
    """A valid signed request from a peer: it is up, so its backoff is reset; a hub that
    signs to us has approved our pairing, so a pending hub becomes active."""
    values: dict[Any, Any] = {FederationPeer.last_seen_at: now}
    reset = peer.failures > 0 or peer.next_attempt_at > now
    if reset:
        values[FederationPeer.failures] = 0
        values[FederationPeer.next_attempt_at] = 0.0
    if peer.status == "pending":
        values[FederationPeer.status] = "active"
    await FederationPeer.update(values).where(FederationPeer.id == peer.id)
    if reset or peer.status == "pending":
        await wake_delivery(peer.node_id, "reset")


async def wake_delivery(node_id: str, reason: str) -> None:
    """Ask a worker to deliver to this peer now, if anything waits for it."""
    waiting = await FederationOutbound.exists().where(
        (FederationOutbound.peer == node_id) & (FederationOutbound.status == "pending")
    )
    if waiting:
        await enqueue(
            DELIVER_TOPIC, f"{DELIVER_TOPIC}:{node_id}:{reason}:{time.time_ns()}", {"peer": node_id}
        )


async def remember_nonce(key: str, until: float, now: float) -> bool:
    """Atomically record a nonce; False when it was recorded before and has not expired."""
    inserted = await (
        FederationNonce.insert(FederationNonce(key=key, until=until))
        .on_conflict(target=FederationNonce.key, action="DO NOTHING")
        .returning(FederationNonce.id)
    )
    if inserted:
        return True
    reused = await (
        FederationNonce.update({FederationNonce.until: until})
        .where((FederationNonce.key == key) & (FederationNonce.until < now))
        .returning(FederationNonce.id)
    )
    return bool(reused)


async def peer_views() -> list[PeerView]:
    peers = await FederationPeer.objects().order_by(FederationPeer.created_at)
    counts = await FederationOutbound.raw(
        "SELECT peer, status, COUNT(*) AS n FROM federation_outbound GROUP BY peer, status"
    )
    by_peer: dict[tuple[str, str], int] = {(r["peer"], r["status"]): int(r["n"]) for r in counts}
    from federation.keys import fingerprint

    return [
        PeerView(
            node_id=p.node_id,
            origin=p.origin,
            role=p.role,
            status=p.status,
            fingerprints=[fingerprint(e.public_key) for e in ring_of(p).with_status("current")],
            failures=p.failures,
            next_attempt_at=p.next_attempt_at,
            last_error=p.last_error,
            last_seen_at=p.last_seen_at,
            pending=by_peer.get((p.node_id, "pending"), 0),
            dead=by_peer.get((p.node_id, "dead"), 0),
        )
        for p in peers
    ]
