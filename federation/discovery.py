"""The self-signed discovery document served at /.well-known/groundswell.

It tells a peer who a node is (node id, origin, role), which keys it signs with now, which old
keys remain valid until when, which keys are revoked, and where its endpoints are. It is
signed by every current key and trusted for at most 7 days. Pairing accepts a document only
if it was fetched from the origin it names and, when an invite fingerprint is pinned, one of
its current keys has that fingerprint: the document alone never establishes trust.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from federation.canonical import CanonicalJSONError, loads_strict
from federation.documents import sign_document, validate_schema, verified_signers
from federation.errors import FederationError
from federation.keyring import KeyEntry, KeyRing
from federation.keys import NodeKey, b64url_decode, b64url_encode, fingerprint, fingerprints_match, key_id_for
from federation.schemas import DISCOVERY_SCHEMA
from federation.verify import SKEW_SECONDS, normalize_origin

__all__ = [
    "ENDPOINT_PATHS",
    "MAX_DOCUMENT_VALIDITY",
    "PROTOCOL",
    "WELL_KNOWN_PATH",
    "DiscoveryDocument",
    "build_discovery_document",
    "parse_discovery_document",
]

PROTOCOL = "groundswell-federation/1"
WELL_KNOWN_PATH = "/.well-known/groundswell"
MAX_DOCUMENT_VALIDITY = 7 * 24 * 3600
ENDPOINT_PATHS = {
    "send": "/federation/v1/send/{txn_id}",
    "events": "/federation/v1/events",
    "pair": "/federation/v1/pair",
}


@dataclass(frozen=True)
class DiscoveryDocument:
    node_id: str
    origin: str
    role: str
    ring: KeyRing
    endpoints: dict[str, str]
    issued_at: int
    valid_until: int
    document: dict[str, Any]


def _published(entry: KeyEntry) -> dict[str, Any]:
    return {
        "key_id": entry.key_id,
        "public_key": b64url_encode(entry.public_key),
        "fingerprint": fingerprint(entry.public_key),
    }


def build_discovery_document(
    *,
    node_id: str,
    origin: str,
    role: str,
    ring: KeyRing,
    signing_keys: Sequence[NodeKey],
    now: int,
    validity: int = 24 * 3600,
) -> dict[str, Any]:
    """The signed document. `signing_keys` must be exactly the ring's current keys; old keys
    are listed while they have not expired, revoked keys always (so late peers learn of them)."""
    if not 0 < validity <= MAX_DOCUMENT_VALIDITY:
        raise ValueError("a discovery document is valid for at most 7 days")
    current = ring.with_status("current")
    if sorted(k.key_id for k in signing_keys) != [e.key_id for e in current]:
        raise ValueError("the document must be signed by exactly the current keys")
    base = normalize_origin(origin)
    document = {
        "protocol": PROTOCOL,
        "node_id": node_id,
        "origin": base,
        "role": role,
        "keys": [_published(e) for e in current],
        "old_keys": [
            {**_published(e), "expires": e.expires}
            for e in ring.with_status("old")
            if e.expires is not None and e.expires > now
        ],
        "revoked_keys": [
            {"key_id": e.key_id, "public_key": b64url_encode(e.public_key), "revoked_at": e.revoked_at or 0}
            for e in ring.with_status("revoked")
        ],
        "endpoints": {name: base + path for name, path in ENDPOINT_PATHS.items()},
        "issued_at": now,
        "valid_until": now + validity,
    }
    return sign_document(document, signing_keys)


def _invalid(detail: str) -> FederationError:
    return FederationError(400, "document_invalid", f"discovery document: {detail}")


def _entry(item: Mapping[str, Any], status: str, **extra: Any) -> KeyEntry:
    raw = b64url_decode(item["public_key"])
    if len(raw) != 32 or key_id_for(raw) != item["key_id"]:
        raise _invalid(f"key_id {item['key_id']} does not name its public key")
    if "fingerprint" in item and item["fingerprint"] != fingerprint(raw):
        raise _invalid(f"the fingerprint of key {item['key_id']} is wrong")
    return KeyEntry(item["key_id"], raw, status, **extra)  # type: ignore[arg-type]


def parse_discovery_document(
    data: bytes | Mapping[str, Any],
    *,
    fetched_from: str,
    now: float,
    pinned_fingerprint: str | None = None,
    expected_node_id: str | None = None,
    expected_role: str | None = None,
) -> DiscoveryDocument:
    """Verify a fetched document. `fetched_from` is the origin we requested it from (not one
    learned from the document or a redirect); `pinned_fingerprint` comes from the invite."""
    if isinstance(data, bytes | bytearray):
        try:
            document = loads_strict(data)
        except CanonicalJSONError as exc:
            raise _invalid(str(exc)) from None
    else:
        document = dict(data)
    validate_schema(DISCOVERY_SCHEMA, document, "discovery document")
    try:
        origin = normalize_origin(fetched_from)
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    if document["origin"] != origin:
        raise FederationError(
            403,
            "origin_mismatch",
            f"the document claims origin {document['origin']} but was fetched from {origin}",
        )
    for name, url in document["endpoints"].items():
        if not url.startswith(origin + "/"):
            raise _invalid(f"endpoint {name} is not under the node's origin")
    issued, until = document["issued_at"], document["valid_until"]
    if issued > now + SKEW_SECONDS:
        raise FederationError(
            401, "clock_skew", "the document was issued in the future", server_time=int(now)
        )
    if until - issued > MAX_DOCUMENT_VALIDITY:
        raise _invalid("valid_until is more than 7 days after issued_at")
    if until <= now:
        raise FederationError(401, "document_expired", "the discovery document has expired")
    try:
        entries = [_entry(k, "current") for k in document["keys"]]
        entries += [_entry(k, "old", expires=k["expires"]) for k in document["old_keys"]]
        entries += [_entry(k, "revoked", revoked_at=k["revoked_at"]) for k in document["revoked_keys"]]
    except ValueError:
        raise _invalid("a public key is not base64url") from None
    if len({e.key_id for e in entries}) != len(entries):
        raise _invalid("a key is listed twice")
    ring = KeyRing.of(entries)
    current = {e.key_id: e.public_key for e in ring.with_status("current")}
    signers = verified_signers(document, current)
    if sorted(signers) != sorted(current):
        raise FederationError(401, "signature_missing", "every current key must sign the discovery document")
    if pinned_fingerprint is not None and not any(
        fingerprints_match(pinned_fingerprint, raw) for raw in current.values()
    ):
        raise FederationError(
            403, "fingerprint_mismatch", "no current key of this node has the fingerprint given in the invite"
        )
    if expected_node_id is not None and document["node_id"] != expected_node_id:
        raise FederationError(
            403, "node_mismatch", f"expected node {expected_node_id}, got {document['node_id']}"
        )
    if expected_role is not None and document["role"] != expected_role:
        raise FederationError(
            403, "role_mismatch", f"expected a {expected_role}, this node is a {document['role']}"
        )
    return DiscoveryDocument(
        node_id=document["node_id"],
        origin=origin,
        role=document["role"],
        ring=ring,
        endpoints=dict(document["endpoints"]),
        issued_at=issued,
        valid_until=until,
        document=document,
    )
