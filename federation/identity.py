"""This node: its id, role, origin and keys, read from the data directory, and the
discovery document it publishes.

The key is generated on first use (`NodeIdentity`), or read from the mounted secret named by
GROUNDSWELL_FEDERATION_KEY_FILE. After a rotation the previous private key is kept beside the
new one until its overlap ends: peers that have not yet processed `key.rotated` know only the
old key, so requests to them (and the transaction carrying `key.rotated` itself) are signed
with it until it expires.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.plugin_api import instance_settings
from federation.discovery import build_discovery_document
from federation.keyring import DEFAULT_OVERLAP_SECONDS, KeyRing, NodeIdentity
from federation.keys import NodeKey, federation_dir, load_private_key, write_private_key
from federation.verify import normalize_origin

PREVIOUS_KEY_FILE = "node_key.previous.pem"
DOCUMENT_VALIDITY = 24 * 3600


@dataclass(frozen=True)
class Identity:
    node_id: str
    role: str
    origin: str
    key: NodeKey
    ring: KeyRing
    previous: NodeKey | None

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint

    def transport_key(self, now: float) -> NodeKey:
        """The key requests are signed with: the previous key while it is still accepted (a
        peer may not have processed the rotation yet), otherwise the current one."""
        if self.previous is not None:
            entry = self.ring.get(self.previous.key_id)
            if entry is not None and entry.state_at(now) == "active":
                return self.previous
        return self.key


def _node_identity() -> NodeIdentity:
    settings = instance_settings()
    secret = Path(settings.federation_key_file) if settings.federation_key_file else None
    return NodeIdentity(settings.data_dir, secret)


def _previous_path() -> Path:
    return federation_dir(instance_settings().data_dir) / PREVIOUS_KEY_FILE


def load_identity(now: float | None = None) -> Identity:
    """The node's identity, creating the node id and key on first use (any process may be
    first: the key file is written atomically and the loser reads the winner's key)."""
    now = time.time() if now is None else now
    settings = instance_settings()
    node_id, key, ring = _node_identity().load(int(now))
    previous = None
    path = _previous_path()
    if path.is_file():
        with contextlib.suppress(ValueError, OSError):
            previous = load_private_key(path.read_bytes(), source=str(path))
    return Identity(
        node_id=node_id,
        role=settings.role,
        origin=normalize_origin(settings.public_url),
        key=key,
        ring=ring,
        previous=previous,
    )


def discovery_document(now: float | None = None) -> dict[str, Any]:
    now = int(time.time() if now is None else now)
    identity = load_identity(now)
    return build_discovery_document(
        node_id=identity.node_id,
        origin=identity.origin,
        role=identity.role,
        ring=identity.ring,
        signing_keys=[identity.key],
        now=now,
        validity=DOCUMENT_VALIDITY,
    )


def rotate_key(now: float, overlap_seconds: int = DEFAULT_OVERLAP_SECONDS) -> tuple[NodeKey, NodeKey]:
    """A new current key; the old one stays valid (and is kept to sign requests to peers
    that have not caught up) for `overlap_seconds`."""
    old, new = _node_identity().rotate(int(now), overlap_seconds)
    write_private_key(_previous_path(), old, replace=True)
    return old, new


def revoke_key(key_id: str, now: float) -> None:
    _node_identity().revoke(key_id, int(now))
    path = _previous_path()
    if path.is_file():
        with contextlib.suppress(ValueError, OSError):
            if load_private_key(path.read_bytes()).key_id == key_id:
                os.unlink(path)
