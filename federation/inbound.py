"""Receiving: verifying signed requests, transactions (idempotent, one in flight per peer),
and applying events exactly once.

The order is the protocol's (docs/federation.md §6.1 and §9.1): declared size before the
body is read, the full signature pipeline, the nonce recorded in the database (replay → 401),
the peer's pairing state, then the body. A transaction's events and its stored response are
written in one database transaction, so a failure part-way leaves nothing behind and the
sender's retry (same Idempotency-Key) is processed afresh; once committed, a retry gets the
stored response and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.plugin_api import plugin_logger, transaction
from federation import boost_requests, copies, introductions, listings, pooled_reach, reach
from federation.errors import FederationError
from federation.events import Event, apply_key_revocation, apply_key_rotation, validate_event, verify_event
from federation.identity import Identity, load_identity
from federation.keyring import PinnedKeyStore
from federation.peers import keystore, note_valid_request, remember_nonce, ring_of, save_ring
from federation.relay import relayed
from federation.tables import FederationPeer, FederationSeenEvent, FederationTransaction
from federation.transactions import Transaction, parse_transaction
from federation.verify import (
    BODY_METHODS,
    DEFAULT_MAX_BODY_BYTES,
    VerifiedRequest,
    Verifier,
    check_declared_length,
)

log = plugin_logger("federation")

IN_FLIGHT_LEASE_SECONDS = 60
RETRY_AFTER_SECONDS = 5
# Test-only: GROUNDSWELL_TEST_* variables are ignored by the settings check and never set in
# production. The benchmark measures the same endpoint with verification switched off.
UNVERIFIED_SWITCH = "GROUNDSWELL_TEST_FEDERATION_UNVERIFIED"

Handler = Callable[[Event, float], Awaitable[str]]
HANDLERS: dict[str, Handler] = {
    "petition.published": relayed(copies.apply_text),
    "petition.updated": relayed(copies.apply_text),
    "petition.closed": relayed(copies.apply_closed),
    "petition.counts": relayed(copies.apply_counts),
    "node.listed": introductions.apply_listing,
    "group.listed": listings.apply_group_listed,
    "event.listed": listings.apply_event_listed,
    "reach.report": reach.apply_reach_report,
    "boost.request": boost_requests.apply_boost_request,
    "boost.report": pooled_reach.apply_boost_report,
}
# A hook tests use to make the receiver fail after its work committed (the "500, then 200"
# case); None in production.
after_commit_hook: Callable[[Transaction], None] | None = None


class _CollectNonce:
    """The verifier records the nonce last, after every other check passed; we take it from
    there and record it in the database (atomic across processes)."""

    def __init__(self) -> None:
        self.recorded: tuple[str, int, int] | None = None

    def remember(self, key: str, until: int, now: int) -> bool:
        self.recorded = (key, until, now)
        return True


@dataclass(frozen=True)
class Received:
    verified: VerifiedRequest
    peer: FederationPeer
    store: PinnedKeyStore
    identity: Identity


def raw_headers(scope: dict[str, Any]) -> list[tuple[str, str]]:
    """Header lines exactly as received (duplicates kept, so they can be refused)."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]


def path_and_query(scope: dict[str, Any]) -> str:
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _unverified() -> bool:
    return os.environ.get(UNVERIFIED_SWITCH, "") == "1"


async def verify_request(
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    read_body: Callable[[], Awaitable[bytes]],
    *,
    max_body: int = DEFAULT_MAX_BODY_BYTES,
    claimed_node: Callable[[bytes], str] | None = None,
) -> Received:
    """The whole inbound pipeline up to (not including) the body's meaning. `read_body` is
    called only after the declared length passed."""
    now = time.time()
    check_declared_length(method, headers, max_body)
    body = await read_body() if method.upper() in BODY_METHODS else b""
    identity = load_identity(now)
    store = await keystore()
    if _unverified() and claimed_node is not None:
        node_id = claimed_node(body)
        key = next(iter(ring_of(await _peer_or_unknown(node_id)).with_status("current")))
        idem = next((v for k, v in headers if k.lower() == "idempotency-key"), "").strip('"')
        verified = VerifiedRequest(node_id, key.key_id, int(now), int(now) + 300, "", idem, body)
    else:
        nonces = _CollectNonce()
        verifier = Verifier(public_url=identity.origin, keys=store, nonces=nonces, max_body=max_body)
        verified = verifier.verify(method, target, headers, body)
        assert nonces.recorded is not None
        key, until, at = nonces.recorded
        if not await remember_nonce(key, until, at):
            raise FederationError(401, "replay", "this request (nonce) has already been received")
    peer = await _peer_or_unknown(verified.node_id)
    if peer.status == "pending" and identity.role == "hub":
        raise FederationError(403, "pairing_pending", "this node's admin has not approved the pairing yet")
    await note_valid_request(peer, now)
    return Received(verified, peer, store, identity)


async def _peer_or_unknown(node_id: str) -> FederationPeer:
    peer = await FederationPeer.objects().where(FederationPeer.node_id == node_id).first()
    if peer is None:
        raise FederationError(401, "unknown_key", "this node is not paired here")
    return peer


# --- transactions ----------------------------------------------------------------------------


async def _claim(peer: FederationPeer, txn_id: str, now: float) -> None:
    """One transaction in flight per peer: a second one is told to wait (429), the same one
    again that it is still in progress (409)."""
    claimed = await (
        FederationPeer.update(
            {FederationPeer.in_txn: txn_id, FederationPeer.in_lease_until: now + IN_FLIGHT_LEASE_SECONDS}
        )
        .where(
            (FederationPeer.id == peer.id)
            & ((FederationPeer.in_txn == "") | (FederationPeer.in_lease_until < now))
        )
        .returning(FederationPeer.id)
    )
    if claimed:
        return
    current = await FederationPeer.select(FederationPeer.in_txn).where(FederationPeer.id == peer.id).first()
    if current and current["in_txn"] == txn_id:
        raise FederationError(409, "transaction_in_progress", "this transaction is still being processed")
    raise FederationError(
        429,
        "rate_limited",
        "another transaction from your node is in progress; send one at a time",
        retry_after=RETRY_AFTER_SECONDS,
    )


async def _release(peer: FederationPeer, txn_id: str) -> None:
    await FederationPeer.update({FederationPeer.in_txn: "", FederationPeer.in_lease_until: 0.0}).where(
        (FederationPeer.id == peer.id) & (FederationPeer.in_txn == txn_id)
    )


async def receive_transaction(received: Received, path_txn_id: str) -> dict[str, Any]:
    """PUT /federation/v1/send/{txn_id} after verification: the response body."""
    now = time.time()
    txn = parse_transaction(
        received.verified, path_txn_id=path_txn_id, this_node_id=received.identity.node_id
    )
    key = f"{txn.origin} {txn.txn_id}"
    body_hash = hashlib.sha256(received.verified.body).hexdigest()
    stored = await _stored(key, body_hash)
    if stored is not None:
        return stored
    await _claim(received.peer, txn.txn_id, now)
    try:
        async with transaction():
            stored = await _stored(key, body_hash)  # a copy that committed while we waited
            if stored is not None:
                return stored
            results = await apply_events(txn.events, received.store, now, sender=txn.origin)
            response = {"txn_id": txn.txn_id, "results": results}
            await FederationTransaction.insert(
                FederationTransaction(
                    key=key, body_hash=body_hash, response=json.dumps(response), created_at=now
                )
            )
        if after_commit_hook is not None:
            after_commit_hook(txn)
        return response
    finally:
        await _release(received.peer, txn.txn_id)


async def _stored(key: str, body_hash: str) -> dict[str, Any] | None:
    row = await FederationTransaction.select().where(FederationTransaction.key == key).first()
    if row is None:
        return None
    if row["body_hash"] != body_hash:
        raise FederationError(
            409,
            "idempotency_conflict",
            "this Idempotency-Key was already used for a different body; use a new txn_id",
        )
    return json.loads(row["response"])


# --- events ----------------------------------------------------------------------------------


def _event_label(envelope: Any, index: int) -> str:
    if isinstance(envelope, dict) and isinstance(envelope.get("id"), str) and len(envelope["id"]) <= 64:
        return envelope["id"]
    return f"#{index}"


async def apply_events(
    envelopes: Sequence[Any], store: PinnedKeyStore, now: float, *, sender: str | None = None
) -> dict[str, str]:
    """Apply events in order, each on its own: a refused event does not refuse the others.
    Key events update `store` at once, so later events in the batch may use the new key.
    `sender` is the peer that sent them (transport); an event from another origin is a relayed
    one and is checked by `introductions.verify_relayed`."""
    results: dict[str, str] = {}
    for index, envelope in enumerate(envelopes):
        label = _event_label(envelope, index)
        try:
            results[label] = await _apply_one(envelope, store, now, sender)
        except FederationError as exc:
            results[label] = exc.code
    return results


async def _apply_one(envelope: Any, store: PinnedKeyStore, now: float, sender: str | None = None) -> str:
    """Claim the event's (origin, id) first, in the caller's transaction: a push and a
    catch-up pull carrying the same event at the same moment then cannot both apply it (on
    PostgreSQL the second waits on the first's claim and finds it taken). A refused event
    gives its claim back, so a genuine copy of it can still be applied later."""
    validate_event(envelope)
    seen_key = f"{envelope['origin']} {envelope['id']}"
    claimed = (
        await FederationSeenEvent.insert(FederationSeenEvent(key=seen_key, created_at=now))
        .on_conflict(target=FederationSeenEvent.key, action="DO NOTHING")
        .returning(FederationSeenEvent.id)
    )
    if not claimed:
        return "ok"  # delivered before: no second effect
    try:
        result = await _apply_claimed(envelope, store, now, sender)
    except FederationError:
        await FederationSeenEvent.delete().where(FederationSeenEvent.key == seen_key)
        raise
    if result != "ok":
        await FederationSeenEvent.delete().where(FederationSeenEvent.key == seen_key)
    return result


async def _apply_claimed(envelope: Any, store: PinnedKeyStore, now: float, sender: str | None) -> str:
    kind = envelope["type"]
    relayed_event = sender is not None and envelope["origin"] != sender
    if kind in ("key.rotated", "key.revoked"):
        if relayed_event:
            raise FederationError(
                403, "relay_refused", "key events are accepted only from the node whose keys they change"
            )
        ring = store.ring(envelope["origin"])
        if ring is None:
            raise FederationError(401, "unknown_key", f"node {envelope['origin']} is not paired here")
        if kind == "key.rotated":
            updated = apply_key_rotation(ring, envelope["origin"], envelope, now)
        else:
            updated = apply_key_revocation(ring, envelope["origin"], envelope)
        await save_ring(envelope["origin"], updated)
        store.pin(envelope["origin"], updated)
        await introductions.keys_changed(envelope["origin"], now)
        result = "ok"
    else:
        if _unverified():
            event = _unchecked_event(envelope)
        elif relayed_event:
            event = await introductions.verify_relayed(envelope, str(sender))
        else:
            event = verify_event(envelope, store)
        handler = HANDLERS.get(kind)
        result = await handler(event, now) if handler else "unsupported_type"
    return result


def _unchecked_event(envelope: dict[str, Any]) -> Event:
    """The benchmark's baseline only: the event as claimed, its signature not checked."""
    return Event(
        envelope["id"],
        envelope["type"],
        envelope["origin"],
        envelope["created"],
        envelope["payload"],
        (),
        envelope,
    )
