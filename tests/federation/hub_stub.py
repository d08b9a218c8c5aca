"""A hub on the other end of an httpx transport, for in-process sender tests: it verifies
every request with the protocol layer (the instance's pinned key, its own nonce store),
keeps idempotency like a real receiver, can be switched offline, and records every body."""

from __future__ import annotations

import json
import time

import httpx

from federation.canonical import canonical_json, loads_strict
from federation.errors import FederationError
from federation.events import apply_key_revocation, apply_key_rotation, verify_event
from federation.identity import load_identity
from federation.keyring import KeyRing, PinnedKeyStore
from federation.transactions import parse_transaction
from federation.verify import InMemoryNonceStore, Verifier
from tests.federation.peer_support import FakePeer

HUB_ORIGIN = "https://hub.example.org"


class StubHub:
    def __init__(self) -> None:
        self.peer = FakePeer.create(role="hub")
        identity = load_identity()
        self.instance = identity.node_id
        self.keys = PinnedKeyStore()
        self.keys.pin(identity.node_id, KeyRing.of(identity.ring.entries.values()))
        self.verifier = Verifier(public_url=HUB_ORIGIN, keys=self.keys, nonces=InMemoryNonceStore())
        self.online = True
        self.bodies: list[bytes] = []
        self.stored: dict[str, tuple[bytes, dict]] = {}
        self.accepted: list[str] = []  # event ids, once per transaction that took effect
        self.applied: dict[str, dict] = {}  # event id → envelope

    @property
    def node_id(self) -> str:
        return self.peer.node_id

    async def pin(self) -> None:
        await self.peer.pin(status="active", origin=HUB_ORIGIN)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.online:
            raise httpx.ConnectError("the hub is offline", request=request)
        if request.method != "PUT":
            return httpx.Response(404, json={"error": "not_found", "message": "the stub only receives"})
        body = request.content
        self.bodies.append(body)
        try:
            verified = self.verifier.verify(
                request.method, request.url.raw_path.decode(), list(request.headers.multi_items()), body
            )
            txn_id = request.url.path.rsplit("/", 1)[-1]
            txn = parse_transaction(verified, path_txn_id=txn_id, this_node_id=self.node_id)
        except FederationError as exc:
            return httpx.Response(exc.status_code, json=exc.as_json())
        if txn_id in self.stored:
            stored_body, response = self.stored[txn_id]
            if stored_body != body:
                return httpx.Response(409, json={"error": "idempotency_conflict"})
            return httpx.Response(200, json=response)
        results = {}
        for envelope in txn.events:
            origin = envelope["origin"]
            if envelope["type"] == "key.rotated":
                ring = apply_key_rotation(self.keys.ring(origin), origin, envelope, time.time())
                self.keys.pin(origin, ring)
                results[envelope["id"]] = "ok"
            elif envelope["type"] == "key.revoked":
                self.keys.pin(origin, apply_key_revocation(self.keys.ring(origin), origin, envelope))
                results[envelope["id"]] = "ok"
            else:
                verify_event(envelope, self.keys)
                results[envelope["id"]] = "ok"
            self.accepted.append(envelope["id"])
            self.applied.setdefault(envelope["id"], envelope)
        response = {"txn_id": txn_id, "results": results}
        self.stored[txn_id] = (body, response)
        return httpx.Response(
            200, content=canonical_json(response), headers={"content-type": "application/json"}
        )

    def events(self) -> list[dict]:
        return [e for body in self.bodies for e in loads_strict(body)["events"]]


def body_text(stub: StubHub) -> str:
    return "\n".join(b.decode() for b in stub.bodies) + json.dumps(list(stub.applied.values()))
