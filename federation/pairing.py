"""Pairing without blind trust (docs/federation.md §5).

The hub admin makes a single-use invite bound to the instance's origin and hands over the
token and the hub's fingerprint out of band. The instance fetches the hub's discovery
document from the URL its admin typed, pins the hub's keys only if the fingerprint matches,
and sends a signed pair request. The hub fetches the instance's document from the origin the
invite names (never one taken from the request), checks that it names the requesting node,
verifies the request with that document's keys, consumes the invite, and waits for its admin.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from core.plugin_api import UserError, enqueue, transaction
from federation.canonical import CanonicalJSONError, canonical_json, loads_strict
from federation.discovery import PROTOCOL, WELL_KNOWN_PATH, DiscoveryDocument, parse_discovery_document
from federation.documents import validate_schema
from federation.errors import FederationError
from federation.httpsig import sign_request
from federation.identity import load_identity
from federation.keyring import PinnedKeyStore
from federation.outbound import client
from federation.peers import add_peer, get_peer, remember_nonce, set_status
from federation.publishing import report_all_counts, republish_to
from federation.schemas import PAIR_REQUEST_SCHEMA
from federation.tables import FederationInvite
from federation.verify import Verifier, check_declared_length, normalize_origin

INVITE_SECONDS = 72 * 3600
PAIR_PATH = "/federation/v1/pair"
PAIR_MAX_BODY = 8192
CATCH_UP_TOPIC = "federation.catch_up"


@dataclass(frozen=True)
class Invite:
    token: str
    origin: str
    expires_at: float
    hub_url: str
    fingerprint: str

    @property
    def join_command(self) -> str:
        return f"groundswell federation join {self.hub_url} {self.token} {self.fingerprint}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _origin(url: str, what: str) -> str:
    try:
        return normalize_origin(url)
    except ValueError:
        raise UserError(
            f"{what} must be an http(s) origin like https://council.example.org, got {url!r}"
        ) from None


async def create_invite(origin: str, now: float | None = None) -> Invite:
    """A hub admin's invite for the instance at `origin` (single use, 72 hours)."""
    now = time.time() if now is None else now
    identity = load_identity(now)
    if identity.role != "hub":
        raise UserError("Only a hub creates invites (this node runs with GROUNDSWELL_ROLE=instance).")
    origin = _origin(origin, "The instance's origin")
    # Never starting with "-": such a token reads as an option on the
    # `groundswell federation join` command line the invite prints.
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        token = secrets.token_urlsafe(32)
    await FederationInvite.insert(
        FederationInvite(
            token_hash=_hash(token), origin=origin, created_at=now, expires_at=now + INVITE_SECONDS
        )
    )
    return Invite(token, origin, now + INVITE_SECONDS, identity.origin, identity.fingerprint)


async def fetch_discovery(origin: str, **expected: Any) -> DiscoveryDocument:
    """GET <origin>/.well-known/groundswell (no redirects: the document must come from the
    origin we chose) and verify it."""
    async with client() as http:
        try:
            response = await http.get(origin + WELL_KNOWN_PATH, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise FederationError(
                502, "discovery_unreachable", f"cannot fetch {origin}{WELL_KNOWN_PATH}: {exc}"
            ) from None
    if response.status_code != 200:
        raise FederationError(
            502, "discovery_unreachable", f"{origin}{WELL_KNOWN_PATH} answered {response.status_code}"
        )
    return parse_discovery_document(response.content, fetched_from=origin, now=time.time(), **expected)


async def join(hub_url: str, token: str, fingerprint: str, now: float | None = None) -> dict[str, Any]:
    """Instance side of pairing: pin the hub if its fingerprint matches, send the signed pair
    request. The hub is listed as pending until it signs to us (after its admin approves)."""
    now = time.time() if now is None else now
    identity = load_identity(now)
    if identity.role != "instance":
        raise UserError("A hub does not join another hub; run `federation join` on an instance.")
    hub_origin = _origin(hub_url, "HUB_URL")
    document = await fetch_discovery(hub_origin, pinned_fingerprint=fingerprint, expected_role="hub")
    body = canonical_json(
        {
            "protocol": PROTOCOL,
            "invite_token": token.strip(),
            "node_id": identity.node_id,
            "origin": identity.origin,
            "role": "instance",
        }
    )
    validate_schema(PAIR_REQUEST_SCHEMA, loads_strict(body), "pair request")
    url = hub_origin + PAIR_PATH
    headers = sign_request("POST", url, identity.key, now=int(time.time()), body=body)
    async with client() as http:
        try:
            response = await http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise FederationError(502, "hub_unreachable", f"cannot reach {url}: {exc}") from None
    if response.status_code not in (200, 202):
        try:
            data = response.json()
            reason = f"{data.get('error')}: {data.get('message')}"
        except ValueError:
            reason = response.text[:200]
        raise FederationError(response.status_code, "pairing_refused", f"the hub refused: {reason}")
    existing = await get_peer(document.node_id)
    if existing is None:
        async with transaction():
            await add_peer(
                node_id=document.node_id,
                origin=hub_origin,
                role="hub",
                ring=document.ring,
                status="pending",
                now=now,
            )
            # Petitions published before we joined: their current state and counts wait in
            # the hub's queue (sent, or pulled by the hub's catch-up, once it approves us).
            await republish_to([document.node_id], now)
            await report_all_counts(now)
    return {"hub": document.node_id, "origin": hub_origin, "status": "pending"}


async def receive_pair_request(
    headers: list[tuple[str, str]], target: str, read_body: Any, now: float | None = None
) -> dict[str, Any]:
    """Hub side of POST /federation/v1/pair."""
    now = time.time() if now is None else now
    identity = load_identity(now)
    if identity.role != "hub":
        raise FederationError(403, "role_mismatch", "this node is an instance; pair with the hub")
    check_declared_length("POST", headers, PAIR_MAX_BODY)
    body: bytes = await read_body()
    try:
        request = loads_strict(body)
    except CanonicalJSONError as exc:
        raise FederationError(400, "document_invalid", f"pair request: {exc}") from None
    validate_schema(PAIR_REQUEST_SCHEMA, request, "pair request")
    invite = (
        await FederationInvite.objects()
        .where(FederationInvite.token_hash == _hash(request["invite_token"]))
        .first()
    )
    if invite is None:
        raise FederationError(403, "invite_invalid", "no such invite; ask the hub admin for a new one")
    if invite.used_at:
        raise FederationError(
            403, "invite_used", "this invite was already used; ask the hub admin for a new one"
        )
    if invite.expires_at <= now:
        raise FederationError(
            403, "invite_expired", "this invite has expired; ask the hub admin for a new one"
        )
    if request["origin"] != invite.origin:
        raise FederationError(
            403, "origin_mismatch", f"this invite is for {invite.origin}, not {request['origin']}"
        )
    # The instance's keys come from the origin the invite names, fetched by us.
    document = await fetch_discovery(invite.origin, expected_role="instance")
    if document.node_id != request["node_id"]:
        raise FederationError(
            403, "node_mismatch", f"{invite.origin} is node {document.node_id}, not {request['node_id']}"
        )
    store = PinnedKeyStore()
    store.pin(document.node_id, document.ring)

    class _Nonces:
        recorded: tuple[str, int, int] | None = None

        def remember(self, key: str, until: int, at: int) -> bool:
            self.recorded = (key, until, at)
            return True

    nonces = _Nonces()
    Verifier(public_url=identity.origin, keys=store, nonces=nonces, max_body=PAIR_MAX_BODY).verify(
        "POST", target, headers, body
    )
    assert nonces.recorded is not None
    if not await remember_nonce(*nonces.recorded):
        raise FederationError(401, "replay", "this request (nonce) has already been received")
    async with transaction():
        consumed = await (
            FederationInvite.update(
                {FederationInvite.used_at: now, FederationInvite.used_by: document.node_id}
            )
            .where((FederationInvite.id == invite.id) & (FederationInvite.used_at == 0.0))
            .returning(FederationInvite.id)
        )
        if not consumed:
            raise FederationError(403, "invite_used", "this invite was already used")
        await add_peer(
            node_id=document.node_id,
            origin=document.origin,
            role="instance",
            ring=document.ring,
            status="pending",
            now=now,
        )
    return {"status": "pending", "node_id": identity.node_id}


async def approve(node_id: str) -> None:
    """Approval of a pending peer, or lifting a suspension: its requests are accepted from
    now on, and we pull what it queued for us while it waited."""
    peer = await set_status(node_id, "active")
    await enqueue(CATCH_UP_TOPIC, f"{CATCH_UP_TOPIC}:{peer.node_id}:{time.time_ns()}", {"peer": peer.node_id})
