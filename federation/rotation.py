"""Rotating and revoking this node's keys, and telling every peer.

Rotation makes a new key current and keeps the old one valid for an overlap; `key.rotated`,
signed by both keys, is queued for every peer (the transaction carrying it is signed with the
old key, the one peers know). Revocation is final; `key.revoked` is signed by the current key.
"""

from __future__ import annotations

import time
from typing import Any

from core.plugin_api import transaction
from federation.events import build_event, build_key_rotation
from federation.identity import load_identity, revoke_key, rotate_key
from federation.keyring import DEFAULT_OVERLAP_SECONDS
from federation.keys import NodeKey
from federation.outbound import all_peers, queue_event


async def rotate_and_announce(
    overlap_seconds: int = DEFAULT_OVERLAP_SECONDS, now: float | None = None
) -> tuple[NodeKey, NodeKey]:
    now = time.time() if now is None else now
    old, new = rotate_key(now, overlap_seconds)
    envelope = build_key_rotation(
        old,
        new,
        origin=load_identity(now).node_id,
        created=int(now),
        old_key_expires=int(now) + overlap_seconds,
    )
    async with transaction():
        await queue_event("key.rotated", envelope["payload"], await all_peers(), envelope=envelope, now=now)
    return old, new


async def revoke_and_announce(key_id: str, reason: str = "", now: float | None = None) -> None:
    now = time.time() if now is None else now
    identity = load_identity(now)
    payload: dict[str, Any] = {"key_id": key_id, "revoked_at": int(now)}
    if reason:
        payload["reason"] = reason[:500]
    envelope = build_event(
        "key.revoked", payload, origin=identity.node_id, created=int(now), keys=[identity.key]
    )
    revoke_key(key_id, now)
    async with transaction():
        await queue_event("key.revoked", payload, await all_peers(), envelope=envelope, now=now)
