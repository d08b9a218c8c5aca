"""Federation events: the envelope, per-type payload schemas, origin signatures, key rotation
and revocation, and the member-data guard for everything that leaves the node.

An event is `{"id", "type", "origin", "created", "payload", "signatures"}`, signed by the
origin node over canonical JSON without `signatures`, so a copy relayed by the hub can still
be checked against the origin's key. Objects carry a monotonic `version` and reports a
cumulative total with a `sequence`, so duplicated or reordered delivery is harmless: a
receiver keeps the highest version/sequence it has seen.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from federation.documents import sign_document, validate_schema, verified_signers
from federation.errors import FederationError
from federation.keyring import KeyRing, KeyStore
from federation.keys import NodeKey, b64url_decode, b64url_encode, key_id_for
from federation.schemas import ENVELOPE_SCHEMA, PAYLOAD_SCHEMAS

__all__ = [
    "EVENT_TYPES",
    "MAX_ROTATION_OVERLAP",
    "Event",
    "MemberDataError",
    "apply_key_revocation",
    "apply_key_rotation",
    "assert_no_member_data",
    "build_event",
    "build_key_rotation",
    "new_event_id",
    "validate_event",
    "verify_event",
]

EVENT_TYPES = tuple(sorted(PAYLOAD_SCHEMAS))
MAX_ROTATION_OVERLAP = 30 * 24 * 3600


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    origin: str
    created: int
    payload: dict[str, Any]
    signed_by: tuple[str, ...]
    envelope: dict[str, Any]


def new_event_id() -> str:
    return secrets.token_urlsafe(18)


# --- The member-data guard ---------------------------------------------------------------

FORBIDDEN_KEYS = frozenset(
    {
        "email", "emails", "email_address", "phone", "phones", "phone_number", "mobile",
        "given_name", "family_name", "first_name", "last_name", "full_name", "display_name",
        "person", "person_id", "people", "member", "member_id", "members", "signer", "signers",
        "signer_id", "signature_id", "address", "postal_address", "street", "address_line",
        "ip", "ip_address", "birthdate", "date_of_birth", "password", "token", "session",
    }
)  # fmt: skip
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w.+-])\+?\(?\d[\d ().-]{5,20}\d(?![\w-])")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[ .,]\d{3})+$")


class MemberDataError(AssertionError):
    """An outbound payload contains something that looks like member data."""


def _looks_like_phone(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    if not 7 <= digits <= 15 or _ISO_DATE.match(candidate) or _THOUSANDS.match(candidate):
        return False
    return candidate.startswith("+") or any(ch in candidate for ch in " ().-")


def assert_no_member_data(payload: Any, path: str = "$") -> None:
    """Raise MemberDataError naming the path of any forbidden key, e-mail address or phone
    number. Deliberately broad (a petition text quoting a phone number is refused too): a
    false alarm costs an edit, a leak cannot be undone."""
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            if str(key).lower().replace("-", "_") in FORBIDDEN_KEYS:
                raise MemberDataError(f"{path}.{key}: {key!r} may not cross between nodes")
            assert_no_member_data(value, f"{path}.{key}")
    elif isinstance(payload, list | tuple):
        for index, item in enumerate(payload):
            assert_no_member_data(item, f"{path}[{index}]")
    elif isinstance(payload, str):
        if _EMAIL.search(payload):
            raise MemberDataError(f"{path}: contains an e-mail address")
        if any(_looks_like_phone(m.group(0)) for m in _PHONE.finditer(payload)):
            raise MemberDataError(f"{path}: contains a phone number")


# --- Building and verifying ----------------------------------------------------------------


def build_event(
    event_type: str,
    payload: dict[str, Any],
    *,
    origin: str,
    created: int,
    keys: Sequence[NodeKey],
    event_id: str | None = None,
) -> dict[str, Any]:
    """A signed envelope, after checking the payload against its schema and the member-data
    guard (so a bug can never queue a leaking event)."""
    if event_type not in PAYLOAD_SCHEMAS:
        raise ValueError(f"unknown event type {event_type!r}")
    validate_schema(PAYLOAD_SCHEMAS[event_type], payload, f"{event_type} payload")
    assert_no_member_data(payload)
    envelope = {
        "id": event_id or new_event_id(),
        "type": event_type,
        "origin": origin,
        "created": created,
        "payload": copy.deepcopy(payload),
    }
    signed = sign_document(envelope, keys)
    validate_schema(ENVELOPE_SCHEMA, signed, "event")
    return signed


def validate_event(envelope: Any) -> None:
    """Envelope and payload against their schemas (400 schema_invalid)."""
    validate_schema(ENVELOPE_SCHEMA, envelope, "event")
    validate_schema(PAYLOAD_SCHEMAS[envelope["type"]], envelope["payload"], f"{envelope['type']} payload")


def _event(envelope: dict[str, Any], signers: Sequence[str]) -> Event:
    return Event(
        id=envelope["id"],
        type=envelope["type"],
        origin=envelope["origin"],
        created=envelope["created"],
        payload=envelope["payload"],
        signed_by=tuple(signers),
        envelope=envelope,
    )


def verify_event(envelope: Any, keys: KeyStore) -> Event:
    """Schema-check an ordinary event and verify its origin signature against pinned keys.
    A key may sign events created while it was valid: not revoked, and if rotated out, created
    before its expiry (so relayed copies outlive a rotation). key.rotated and key.revoked
    change the key ring and go through apply_key_rotation / apply_key_revocation instead."""
    validate_event(envelope)
    if envelope["type"] in ("key.rotated", "key.revoked"):
        raise FederationError(
            400, "wrong_handler", f"{envelope['type']} events change keys; apply them instead"
        )
    if len(envelope["signatures"]) != 1:
        raise FederationError(401, "multiple_signatures", "an event is signed by exactly one origin key")
    key_id = envelope["signatures"][0]["key_id"]
    pinned = keys.lookup(key_id)
    if pinned is None:
        raise FederationError(401, "unknown_key", f"key {key_id} is not pinned here; keys are never fetched")
    if pinned.node_id != envelope["origin"]:
        raise FederationError(
            403,
            "node_mismatch",
            f"the event claims origin {envelope['origin']} but key {key_id} is not theirs",
        )
    if pinned.status == "revoked":
        raise FederationError(401, "key_revoked", f"key {key_id} has been revoked")
    if pinned.status == "old" and (pinned.expires is None or envelope["created"] >= pinned.expires):
        raise FederationError(401, "key_expired", f"key {key_id} had expired when this event was created")
    signers = verified_signers(envelope, {key_id: pinned.public_key})
    return _event(envelope, signers)


def build_key_rotation(
    old: NodeKey, new: NodeKey, *, origin: str, created: int, old_key_expires: int
) -> dict[str, Any]:
    """The key.rotated event, signed by the old key and the new key."""
    payload = {
        "old_key": {"key_id": old.key_id, "public_key": b64url_encode(old.public_bytes)},
        "new_key": {"key_id": new.key_id, "public_key": b64url_encode(new.public_bytes)},
        "old_key_expires": old_key_expires,
    }
    return build_event("key.rotated", payload, origin=origin, created=created, keys=[old, new])


def apply_key_rotation(ring: KeyRing, node_id: str, envelope: Any, now: float) -> KeyRing:
    """Verify a key.rotated event against the node's pinned ring and return the updated ring:
    the new key pinned as current, the old one kept until `old_key_expires`. Both the old
    (pinned, active) key and the new key must sign; one signature alone proves nothing."""
    validate_event(envelope)
    if envelope["type"] != "key.rotated" or envelope["origin"] != node_id:
        raise FederationError(403, "node_mismatch", "not a key rotation by this node")
    payload = envelope["payload"]
    old_id, new_id = payload["old_key"]["key_id"], payload["new_key"]["key_id"]
    old_entry = ring.get(old_id)
    if old_entry is None or old_entry.state_at(now) != "active":
        raise FederationError(
            401, "unknown_key", "the rotated-out key is not an active pinned key of this node"
        )
    try:
        new_raw = b64url_decode(payload["new_key"]["public_key"])
    except ValueError:
        raise FederationError(400, "document_invalid", "the new public key is not base64url") from None
    if key_id_for(new_raw) != new_id or new_id == old_id:
        raise FederationError(400, "document_invalid", "the new key_id does not name the new public key")
    existing = ring.get(new_id)
    if existing is not None and existing.status == "revoked":
        raise FederationError(401, "key_revoked", "the new key was revoked earlier")
    expires = payload["old_key_expires"]
    if not now < expires <= now + MAX_ROTATION_OVERLAP:
        raise FederationError(400, "document_invalid", "old_key_expires must be within the next 30 days")
    signers = verified_signers(envelope, {old_id: old_entry.public_key, new_id: new_raw})
    if sorted(signers) != sorted([old_id, new_id]):
        raise FederationError(
            401, "rotation_unconfirmed", "key.rotated must be signed by both the old and the new key"
        )
    updated = KeyRing(dict(ring.entries))
    updated.add_current(new_raw)
    updated.retire(old_id, min(expires, old_entry.expires or expires))
    return updated


def apply_key_revocation(ring: KeyRing, node_id: str, envelope: Any) -> KeyRing:
    """Verify a key.revoked event (signed by any pinned key of the node, the revoked one
    included: whoever holds it may disable it) and return the ring with the key revoked."""
    validate_event(envelope)
    if envelope["type"] != "key.revoked" or envelope["origin"] != node_id:
        raise FederationError(403, "node_mismatch", "not a key revocation by this node")
    key_id = envelope["payload"]["key_id"]
    if ring.get(key_id) is None:
        raise FederationError(401, "unknown_key", f"key {key_id} is not pinned for this node")
    usable = {
        e.key_id: e.public_key for e in ring.entries.values() if e.status != "revoked" or e.key_id == key_id
    }
    verified_signers(envelope, usable)
    updated = KeyRing(dict(ring.entries))
    updated.revoke(key_id, envelope["payload"]["revoked_at"])
    return updated
