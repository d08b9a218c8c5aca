"""Which keys a node holds or trusts, and in which state: current, old (until an expiry), revoked.

The same structure describes a node's own keys (published in its discovery document) and the
keys it has pinned for each peer (what the verifier consults). Verification only ever asks a
`KeyStore` — an in-memory or database lookup by keyid — so a keyid is a label and never a URL.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

from federation.keys import (
    NodeKey,
    b64url_decode,
    b64url_encode,
    federation_dir,
    generate_node_key,
    key_id_for,
    load_or_create_private_key,
    write_private_key,
)

__all__ = [
    "DEFAULT_OVERLAP_SECONDS",
    "KeyEntry",
    "KeyRing",
    "KeyStore",
    "NodeIdentity",
    "PinnedKey",
    "PinnedKeyStore",
    "new_node_id",
]

KeyStatus = Literal["current", "old", "revoked"]
KeyState = Literal["active", "expired", "revoked"]

# How long peers keep accepting a rotated-out key: long enough for queued transactions and a
# peer that was offline for a week to learn about the rotation.
DEFAULT_OVERLAP_SECONDS = 7 * 24 * 3600
NODE_FILE = "node.json"


def new_node_id() -> str:
    """A random, permanent node id ("gs-" and 26 lower-case base32 characters, 130 bits)."""
    return "gs-" + base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()[:26]


@dataclass(frozen=True)
class KeyEntry:
    key_id: str
    public_key: bytes
    status: KeyStatus
    expires: int | None = None
    revoked_at: int | None = None

    def state_at(self, now: float) -> KeyState:
        if self.status == "revoked":
            return "revoked"
        if self.status == "old" and (self.expires is None or now >= self.expires):
            return "expired"
        return "active"

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "key_id": self.key_id,
            "public_key": b64url_encode(self.public_key),
            "status": self.status,
        }
        if self.expires is not None:
            data["expires"] = self.expires
        if self.revoked_at is not None:
            data["revoked_at"] = self.revoked_at
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> KeyEntry:
        raw = b64url_decode(str(data["public_key"]))
        entry = cls(
            key_id=str(data["key_id"]),
            public_key=raw,
            status=data["status"],  # type: ignore[arg-type]
            expires=data.get("expires"),  # type: ignore[arg-type]
            revoked_at=data.get("revoked_at"),  # type: ignore[arg-type]
        )
        if len(raw) != 32 or key_id_for(raw) != entry.key_id:
            raise ValueError(f"key {entry.key_id!r}: the keyid does not name this public key")
        if entry.status not in ("current", "old", "revoked"):
            raise ValueError(f"key {entry.key_id!r}: unknown status {entry.status!r}")
        return entry


@dataclass
class KeyRing:
    """Keys of one node by keyid. Revocation is final: a revoked key never becomes usable again."""

    entries: dict[str, KeyEntry] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[KeyEntry]) -> KeyRing:
        return cls({entry.key_id: entry for entry in entries})

    def get(self, key_id: str) -> KeyEntry | None:
        return self.entries.get(key_id)

    def with_status(self, status: KeyStatus) -> list[KeyEntry]:
        return sorted((e for e in self.entries.values() if e.status == status), key=lambda e: e.key_id)

    def active(self, now: float) -> list[KeyEntry]:
        return [e for e in self.entries.values() if e.state_at(now) == "active"]

    def add_current(self, public_key: bytes) -> KeyEntry:
        key_id = key_id_for(public_key)
        existing = self.entries.get(key_id)
        if existing is not None and existing.status == "revoked":
            raise ValueError(f"key {key_id} was revoked and cannot be used again")
        entry = KeyEntry(key_id, public_key, "current")
        self.entries[key_id] = entry
        return entry

    def retire(self, key_id: str, expires: int) -> KeyEntry:
        entry = self._require(key_id)
        if entry.status == "revoked":
            return entry
        retired = replace(entry, status="old", expires=expires)
        self.entries[key_id] = retired
        return retired

    def revoke(self, key_id: str, at: int) -> KeyEntry:
        entry = self._require(key_id)
        if entry.status == "revoked":
            return entry
        revoked = replace(entry, status="revoked", revoked_at=at, expires=None)
        self.entries[key_id] = revoked
        return revoked

    def _require(self, key_id: str) -> KeyEntry:
        entry = self.entries.get(key_id)
        if entry is None:
            raise KeyError(f"no key {key_id} in this key ring")
        return entry

    def to_json(self) -> list[dict[str, object]]:
        return [self.entries[k].to_json() for k in sorted(self.entries)]

    @classmethod
    def from_json(cls, data: list[dict[str, object]]) -> KeyRing:
        return cls.of(KeyEntry.from_json(item) for item in data)


@dataclass(frozen=True)
class PinnedKey:
    """What the verifier learns from a keyid: the key, the node that owns it, and its state."""

    key_id: str
    node_id: str
    public_key: bytes
    status: KeyStatus
    expires: int | None = None
    peer_suspended: bool = False


class KeyStore(Protocol):
    """Pinned keys only. Implementations must not perform network access of any kind."""

    def lookup(self, key_id: str) -> PinnedKey | None: ...


class PinnedKeyStore:
    """In-memory KeyStore built from each peer's KeyRing (the database-backed one mirrors it)."""

    def __init__(self) -> None:
        self._rings: dict[str, KeyRing] = {}
        self._suspended: set[str] = set()

    def pin(self, node_id: str, ring: KeyRing) -> None:
        for key_id in ring.entries:
            owner = self.owner_of(key_id)
            if owner is not None and owner != node_id:
                raise ValueError(f"key {key_id} is already pinned for node {owner}")
        self._rings[node_id] = ring

    def ring(self, node_id: str) -> KeyRing | None:
        return self._rings.get(node_id)

    def owner_of(self, key_id: str) -> str | None:
        for node_id, ring in self._rings.items():
            if key_id in ring.entries:
                return node_id
        return None

    def suspend(self, node_id: str, suspended: bool = True) -> None:
        """The admin kill switch: every request from the node is refused while set."""
        if suspended:
            self._suspended.add(node_id)
        else:
            self._suspended.discard(node_id)

    def lookup(self, key_id: str) -> PinnedKey | None:
        node_id = self.owner_of(key_id)
        if node_id is None:
            return None
        entry = self._rings[node_id].entries[key_id]
        return PinnedKey(
            key_id=entry.key_id,
            node_id=node_id,
            public_key=entry.public_key,
            status=entry.status,
            expires=entry.expires,
            peer_suspended=node_id in self._suspended,
        )


class NodeIdentity:
    """This node's id and keys on disk: `<data dir>/federation/node.json` (node id and the
    public state of every own key) beside the private key file or a mounted secret."""

    def __init__(self, data_dir: Path, secret_path: Path | None = None) -> None:
        self.dir = federation_dir(data_dir)
        self.data_dir = Path(data_dir)
        self.secret_path = Path(secret_path) if secret_path else None

    @property
    def _node_file(self) -> Path:
        return self.dir / NODE_FILE

    def _read(self) -> tuple[str | None, KeyRing]:
        if not self._node_file.is_file():
            return None, KeyRing()
        data = json.loads(self._node_file.read_text(encoding="utf-8"))
        return data["node_id"], KeyRing.from_json(data["keys"])

    def _write(self, node_id: str, ring: KeyRing) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self._node_file.with_name(f".{NODE_FILE}.{secrets.token_hex(8)}.tmp")
        tmp.write_text(json.dumps({"node_id": node_id, "keys": ring.to_json()}, indent=1), encoding="utf-8")
        os.replace(tmp, self._node_file)

    def load(self, now: int) -> tuple[str, NodeKey, KeyRing]:
        """Node id, current private key and own key ring, creating whatever is missing. A key
        that changed without a rotation (a replaced secret) retires the previous one at once:
        peers will refuse the new key until they pair again, which is the safe outcome."""
        key = load_or_create_private_key(self.data_dir, self.secret_path)
        node_id, ring = self._read()
        changed = node_id is None
        node_id = node_id or new_node_id()
        if ring.get(key.key_id) is None or ring.entries[key.key_id].status != "current":
            for entry in ring.with_status("current"):
                ring.retire(entry.key_id, now)
            ring.add_current(key.public_bytes)
            changed = True
        if changed:
            self._write(node_id, ring)
        return node_id, key, ring

    def rotate(self, now: int, overlap_seconds: int = DEFAULT_OVERLAP_SECONDS) -> tuple[NodeKey, NodeKey]:
        """Make a new current key; the previous one stays valid for `overlap_seconds`. Returns
        (old, new) so the caller signs the key.rotated event with both before the old private
        key is gone. Keys from a mounted secret are rotated by the operator, not here."""
        if self.secret_path is not None:
            raise ValueError(
                "the node key comes from a mounted secret; rotate it by pairing again with the new "
                "secret, or move the key into the data directory first"
            )
        node_id, old, ring = self.load(now)
        new = generate_node_key()
        ring.retire(old.key_id, now + overlap_seconds)
        ring.add_current(new.public_bytes)
        self._write(node_id, ring)
        write_private_key(self.dir / "node_key.pem", new, replace=True)
        return old, new

    def revoke(self, key_id: str, now: int) -> KeyEntry:
        """Mark one of our own keys revoked (a compromised old key). The current key cannot be
        revoked this way: rotate first, then revoke the old one."""
        node_id, key, ring = self.load(now)
        if key_id == key.key_id:
            raise ValueError("rotate to a new key before revoking the current one")
        entry = ring.revoke(key_id, now)
        self._write(node_id, ring)
        return entry
