"""A fake peer for in-process tests: its own key and node id, pinned in this node's
database, signing requests and events exactly as a real node does."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from federation.events import build_event, new_event_id
from federation.httpsig import sign_request
from federation.identity import load_identity
from federation.keyring import KeyRing, new_node_id
from federation.keys import NodeKey, generate_node_key
from federation.tables import FederationPeer
from federation.transactions import build_transaction, new_txn_id, send_path

BASE = "http://testserver.local"


@dataclass
class FakePeer:
    node_id: str
    key: NodeKey
    ring: KeyRing = field(default_factory=KeyRing)
    role: str = "hub"

    @classmethod
    def create(cls, role: str = "hub") -> FakePeer:
        key = generate_node_key()
        peer = cls(new_node_id(), key, role=role)
        peer.ring.add_current(key.public_bytes)
        return peer

    async def pin(self, status: str = "active", origin: str = "https://peer.example.org") -> None:
        await FederationPeer.insert(
            FederationPeer(
                node_id=self.node_id,
                origin=origin,
                role=self.role,
                status=status,
                keys=json.dumps(self.ring.to_json()),
                created_at=time.time(),
            )
        )

    def event(
        self, kind: str, payload: dict[str, Any], *, created: int | None = None, event_id: str | None = None
    ):
        return build_event(
            kind,
            payload,
            origin=self.node_id,
            created=created or int(time.time()),
            keys=[self.key],
            event_id=event_id or new_event_id(),
        )

    def transaction(self, events: list[dict[str, Any]], txn_id: str | None = None) -> tuple[str, bytes]:
        txn_id = txn_id or new_txn_id()
        return txn_id, build_transaction(self.node_id, load_identity().node_id, txn_id, events)

    def put_headers(self, txn_id: str, body: bytes) -> list[tuple[str, str]]:
        return sign_request(
            "PUT", BASE + send_path(txn_id), self.key, now=int(time.time()), body=body, idempotency_key=txn_id
        )

    async def send(
        self, client: Any, events: list[dict[str, Any]], txn_id: str | None = None, body: bytes | None = None
    ):
        txn_id, built = self.transaction(events, txn_id)
        body = built if body is None else body
        return await client.put(send_path(txn_id), content=body, headers=self.put_headers(txn_id, body))

    def get_headers(self, path: str) -> list[tuple[str, str]]:
        return sign_request("GET", BASE + path, self.key, now=int(time.time()))

    def petition(self, local_id: str = "p-1", version: int = 1, **changes: Any) -> dict[str, Any]:
        copy = {
            "id": local_id,
            "version": version,
            "slug": "save-the-river-library",
            "title": changes.pop("title", f"Save the river library (v{version})"),
            "body": "The library by the river is the only one in the district. Keep it open on weekends.",
            "targets": [{"name": "Jane Mayor", "title": "Mayor"}],
            "goal": 500,
            "status": "published",
            "url": f"https://peer.example.org/p/save-the-river-library-{local_id}",
            "published_at": 1_760_000_000,
            "updated_at": 1_760_000_000 + version,
        }
        copy.update(changes)
        return {"petition": copy}

    def counts(self, local_id: str, sequence: int, signatures: int) -> dict[str, Any]:
        return {
            "petition": {"origin": self.node_id, "id": local_id},
            "sequence": sequence,
            "as_of": int(time.time()),
            "signatures": signatures,
        }
