"""Sending: the per-peer queue of signed events, delivery in transactions, retries, dead
letters, and pulling a peer's queue to catch up.

Each event for each peer is a row (`federation_outbound`) written when the change that caused
it is handled; delivery takes up to 50 pending rows, in order, into one transaction with a
txn_id recorded on the rows, so a retry sends the same txn_id and the same bytes (with a
fresh signature). One delivery per peer runs at a time (a lease on the peer row). Retries
back off exponentially with full jitter, capped at 6 hours; nothing is dropped before 30
days, when the rows become dead letters shown to the admin, as are events the peer refused.

`now` is injectable so tests can simulate days offline; request signatures always use the
real clock (the receiver checks them against its own).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

import httpx

from core.plugin_api import enqueue, plugin_logger
from federation.canonical import loads_strict
from federation.documents import validate_schema
from federation.errors import FederationError
from federation.events import MemberDataError, assert_no_member_data, build_event
from federation.httpsig import sign_request
from federation.identity import Identity, load_identity
from federation.keys import b64url_encode
from federation.peers import DELIVER_TOPIC, keystore
from federation.schemas import EVENTS_PAGE_SCHEMA
from federation.tables import FederationOutbound, FederationPeer
from federation.transactions import (
    DEAD_LETTER_AFTER_SECONDS,
    MAX_EVENTS_PER_TRANSACTION,
    backoff_delay,
    build_transaction,
    is_dead_letter,
    new_txn_id,
    send_path,
)

log = plugin_logger("federation")

LEASE_SECONDS = 120
REQUEST_TIMEOUT = 20.0
MAX_BATCHES_PER_RUN = 20
CATCH_UP_PAGE = 500
# Refusals that the other side's admin (or time) resolves: retried with backoff, not dead.
RETRYABLE_CODES = {
    "peer_suspended",
    "pairing_pending",
    "rate_limited",
    "transaction_in_progress",
    "clock_skew",
}

# Tests swap the HTTP transport (a peer that is offline, a recording stub); None: the network.
_transport: httpx.AsyncBaseTransport | None = None


def set_transport(transport: httpx.AsyncBaseTransport | None) -> None:
    global _transport
    _transport = transport


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=_transport, timeout=REQUEST_TIMEOUT, follow_redirects=False)


def stable_event_id(*parts: object) -> str:
    """An event id derived from what caused it, so a handler that runs twice (core events are
    at-least-once) queues the same event, which is then recognised."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return b64url_encode(digest[:24])


# --- queueing --------------------------------------------------------------------------------


async def queue_event(
    event_type: str,
    payload: dict[str, Any],
    peers: Sequence[str],
    *,
    event_id: str | None = None,
    now: float | None = None,
    envelope: dict[str, Any] | None = None,
) -> int:
    """Sign the event once and queue it for each peer (skipping peers that have it already).
    A payload refused by the member-data guard is recorded as a dead letter, never sent."""
    if not peers:
        return 0
    now = time.time() if now is None else now
    identity = load_identity(now)
    try:
        if envelope is None:
            envelope = build_event(
                event_type,
                payload,
                origin=identity.node_id,
                created=int(now),
                keys=[identity.key],
                event_id=event_id,
            )
        else:
            assert_no_member_data(envelope["payload"])
        text, status, error = json.dumps(envelope), "pending", ""
    except (MemberDataError, FederationError) as exc:
        log.error("federation event %s not sent: %s", event_type, exc)
        text, status, error = "{}", "dead", f"not sent: {exc}"
        envelope = {"id": event_id or stable_event_id(event_type, now)}
    queued = 0
    for peer in peers:
        exists = await FederationOutbound.exists().where(
            (FederationOutbound.peer == peer) & (FederationOutbound.event_id == envelope["id"])
        )
        if exists:
            continue
        rows = await FederationOutbound.insert(
            FederationOutbound(
                peer=peer,
                event_id=envelope["id"],
                event_type=event_type,
                envelope=text,
                status=status,
                created_at=now,
                last_error=error,
            )
        ).returning(FederationOutbound.id)
        queued += 1
        if status == "pending":
            await enqueue(DELIVER_TOPIC, f"{DELIVER_TOPIC}:{peer}:{rows[0]['id']}", {"peer": peer})
    return queued


async def peers_with_role(role: str) -> list[str]:
    """Node ids of the peers with this role that events should go to (all but unpaired:
    a suspended peer's events wait, they are not dropped)."""
    rows = await FederationPeer.select(FederationPeer.node_id).where(FederationPeer.role == role)
    return [r["node_id"] for r in rows]


async def all_peers() -> list[str]:
    return [r["node_id"] for r in await FederationPeer.select(FederationPeer.node_id)]


# --- delivery --------------------------------------------------------------------------------


async def _lease(peer: FederationPeer, now: float) -> str | None:
    token = new_txn_id()
    claimed = await (
        FederationPeer.update(
            {FederationPeer.out_txn: token, FederationPeer.out_lease_until: now + LEASE_SECONDS}
        )
        .where((FederationPeer.id == peer.id) & (FederationPeer.out_lease_until < now))
        .returning(FederationPeer.id)
    )
    return token if claimed else None


async def _release(peer: FederationPeer, token: str) -> None:
    await FederationPeer.update({FederationPeer.out_txn: "", FederationPeer.out_lease_until: 0.0}).where(
        (FederationPeer.id == peer.id) & (FederationPeer.out_txn == token)
    )


async def _next_batch(node_id: str) -> tuple[str, list[FederationOutbound]]:
    """The transaction being retried, if any, else a new one of the oldest pending events."""
    pending = (FederationOutbound.peer == node_id) & (FederationOutbound.status == "pending")
    started = await (
        FederationOutbound.objects()
        .where(pending & (FederationOutbound.txn_id != ""))
        .order_by(FederationOutbound.id)
        .first()
    )
    if started is not None:
        rows = await (
            FederationOutbound.objects()
            .where(pending & (FederationOutbound.txn_id == started.txn_id))
            .order_by(FederationOutbound.id)
        )
        return started.txn_id, rows
    rows = await (
        FederationOutbound.objects()
        .where(pending & (FederationOutbound.txn_id == ""))
        .order_by(FederationOutbound.id)
        .limit(MAX_EVENTS_PER_TRANSACTION)
    )
    if not rows:
        return "", []
    txn_id = new_txn_id()
    await FederationOutbound.update({FederationOutbound.txn_id: txn_id}).where(
        FederationOutbound.id.is_in([r.id for r in rows])
    )
    return txn_id, rows


async def _fail(peer: FederationPeer, now: float, error: str, retry_after: float | None = None) -> float:
    failures = peer.failures + 1
    delay = max(backoff_delay(failures), retry_after or 0.0)
    await FederationPeer.update(
        {
            FederationPeer.failures: failures,
            FederationPeer.next_attempt_at: now + delay,
            FederationPeer.last_error: error[:2000],
        }
    ).where(FederationPeer.id == peer.id)
    peer.failures, peer.next_attempt_at, peer.last_error = failures, now + delay, error
    return delay


async def _dead(rows: Sequence[FederationOutbound], error: str) -> None:
    await FederationOutbound.update(
        {FederationOutbound.status: "dead", FederationOutbound.last_error: error[:2000]}
    ).where(FederationOutbound.id.is_in([r.id for r in rows]))


def _error_of(response: httpx.Response) -> tuple[str, str]:
    try:
        data = response.json()
        return str(data.get("error", "")), str(data.get("message", ""))
    except (ValueError, AttributeError):
        return "", response.text[:200]


async def deliver_to_peer(node_id: str, *, now: float | None = None) -> str:
    """Send what waits for one peer, one transaction at a time, until the queue is empty or
    a failure schedules a retry. Returns a one-line summary (for logs and the CLI)."""
    now = time.time() if now is None else now
    peer = await FederationPeer.objects().where(FederationPeer.node_id == node_id).first()
    if peer is None:
        return f"{node_id}: not a peer"
    if peer.status == "suspended":
        return f"{node_id}: suspended here; events wait"
    if peer.next_attempt_at > now:
        return f"{node_id}: backing off until {int(peer.next_attempt_at)}"
    token = await _lease(peer, now)
    if token is None:
        return f"{node_id}: a delivery is already in progress"
    try:
        return await _deliver(peer, now)
    finally:
        await _release(peer, token)


async def _deliver(peer: FederationPeer, now: float) -> str:
    identity = load_identity(now)
    sent = 0
    async with client() as http:
        for _ in range(MAX_BATCHES_PER_RUN):
            txn_id, rows = await _next_batch(peer.node_id)
            if not rows:
                break
            if is_dead_letter(rows[0].created_at, now):
                await _dead(rows, f"undelivered for 30 days; last error: {peer.last_error}")
                continue
            outcome = await _send(http, identity, peer, txn_id, rows, now)
            if outcome != "sent":
                return f"{peer.node_id}: {outcome}; {sent} events sent"
            sent += len(rows)
    return f"{peer.node_id}: {sent} events sent"


async def _send(
    http: httpx.AsyncClient,
    identity: Identity,
    peer: FederationPeer,
    txn_id: str,
    rows: Sequence[FederationOutbound],
    now: float,
) -> str:
    body = build_transaction(identity.node_id, peer.node_id, txn_id, [json.loads(r.envelope) for r in rows])
    url = peer.origin + send_path(txn_id)
    headers = sign_request(
        "PUT",
        url,
        identity.transport_key(time.time()),
        now=int(time.time()),
        body=body,
        idempotency_key=txn_id,
    )
    try:
        response = await http.put(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        delay = await _fail(peer, now, f"{type(exc).__name__}: {exc}")
        return f"unreachable, retry in {int(delay)} s"
    if 200 <= response.status_code < 300:
        try:
            results = response.json().get("results", {})
        except ValueError:
            results = {}
        ok = [r for r in rows if results.get(r.event_id) == "ok"]
        refused = [r for r in rows if results.get(r.event_id) != "ok"]
        if ok:
            await FederationOutbound.update(
                {FederationOutbound.status: "sent", FederationOutbound.sent_at: now}
            ).where(FederationOutbound.id.is_in([r.id for r in ok]))
        for row in refused:
            await _dead([row], f"refused by the peer: {results.get(row.event_id, 'no result')}")
        values: dict[Any, Any] = {
            FederationPeer.failures: 0,
            FederationPeer.next_attempt_at: 0.0,
            FederationPeer.last_error: "",
            FederationPeer.last_seen_at: now,
        }
        if peer.status == "pending":
            values[FederationPeer.status] = "active"
        await FederationPeer.update(values).where(FederationPeer.id == peer.id)
        peer.failures, peer.next_attempt_at = 0, 0.0
        return "sent"
    code, message = _error_of(response)
    error = f"{response.status_code} {code}: {message}".strip()
    if response.status_code in (429, 503) or response.status_code >= 500 or code in RETRYABLE_CODES:
        retry_after = _retry_after(response)
        delay = await _fail(peer, now, error, retry_after)
        return f"{error}; retry in {int(delay)} s"
    await _dead(rows, f"refused: {error}")
    await FederationPeer.update({FederationPeer.last_error: error[:2000]}).where(FederationPeer.id == peer.id)
    return f"refused ({error}); events moved to dead letters"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


async def due_peers(now: float) -> list[str]:
    """Peers with pending events whose backoff has passed (the sweep delivers to them)."""
    rows = await FederationOutbound.raw(
        "SELECT DISTINCT o.peer FROM federation_outbound o JOIN federation_peer p ON p.node_id = o.peer "
        "WHERE o.status = 'pending' AND p.status != 'suspended' AND p.next_attempt_at <= {}",
        now,
    )
    return [r["peer"] for r in rows]


async def retry_dead_letters(node_id: str) -> int:
    """Put a peer's dead letters back in the queue (after the cause was fixed)."""
    rows = await (
        FederationOutbound.update(
            {
                FederationOutbound.status: "pending",
                FederationOutbound.txn_id: "",
                FederationOutbound.last_error: "",
            }
        )
        .where(
            (FederationOutbound.peer == node_id)
            & (FederationOutbound.status == "dead")
            & (FederationOutbound.envelope != "{}")
        )
        .returning(FederationOutbound.id)
    )
    await FederationPeer.update({FederationPeer.next_attempt_at: 0.0, FederationPeer.failures: 0}).where(
        FederationPeer.node_id == node_id
    )
    return len(rows)


async def dead_letters(limit: int = 100) -> list[dict[str, Any]]:
    return await (
        FederationOutbound.select(
            FederationOutbound.id,
            FederationOutbound.peer,
            FederationOutbound.event_type,
            FederationOutbound.event_id,
            FederationOutbound.created_at,
            FederationOutbound.last_error,
        )
        .where(FederationOutbound.status == "dead")
        .order_by(FederationOutbound.id, ascending=False)
        .limit(limit)
    )


# --- catch-up --------------------------------------------------------------------------------


async def events_for(node_id: str, since: int, now: float) -> dict[str, Any]:
    """GET /federation/v1/events: what we queued for this peer after `since`, oldest first."""
    rows = await (
        FederationOutbound.select(FederationOutbound.id, FederationOutbound.envelope)
        .where(
            (FederationOutbound.peer == node_id)
            & (FederationOutbound.id > since)
            & FederationOutbound.status.is_in(["pending", "sent"])
            & (FederationOutbound.created_at > now - DEAD_LETTER_AFTER_SECONDS)
        )
        .order_by(FederationOutbound.id)
        .limit(CATCH_UP_PAGE)
    )
    return {
        "origin": load_identity(now).node_id,
        "events": [json.loads(r["envelope"]) for r in rows],
        "next": str(rows[-1]["id"]) if rows else None,
    }


async def catch_up(node_id: str, *, now: float | None = None) -> int:
    """Pull what a peer queued for us since our cursor and apply it (duplicates of pushed
    events have no second effect). Returns how many events were received."""
    from core.plugin_api import transaction
    from federation.inbound import apply_events

    now = time.time() if now is None else now
    peer = await FederationPeer.objects().where(FederationPeer.node_id == node_id).first()
    if peer is None or peer.status != "active":
        return 0
    identity = load_identity(now)
    received = 0
    async with client() as http:
        while True:
            path = f"/federation/v1/events?since={peer.catch_up_cursor}"
            url = peer.origin + path
            headers = sign_request("GET", url, identity.transport_key(time.time()), now=int(time.time()))
            try:
                response = await http.get(url, headers=headers)
            except httpx.HTTPError as exc:
                raise FederationError(
                    502, "peer_unreachable", f"cannot reach {peer.origin}: {exc or type(exc).__name__}"
                ) from None
            if response.status_code != 200:
                code, message = _error_of(response)
                raise FederationError(
                    502, "catch_up_failed", f"{peer.origin} answered {response.status_code} {code}: {message}"
                )
            page = loads_strict(response.content)
            validate_schema(EVENTS_PAGE_SCHEMA, page, "events page")
            if page["origin"] != peer.node_id:
                raise FederationError(403, "node_mismatch", "the events page is from another node")
            if not page["events"]:
                break
            store = await keystore()
            async with transaction():
                await apply_events(page["events"], store, now, sender=peer.node_id)
                await FederationPeer.update({FederationPeer.catch_up_cursor: str(page["next"])}).where(
                    FederationPeer.id == peer.id
                )
            peer.catch_up_cursor = str(page["next"])
            received += len(page["events"])
            if len(page["events"]) < CATCH_UP_PAGE:
                break
    return received
