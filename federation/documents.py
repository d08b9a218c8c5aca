"""Signed JSON documents (discovery documents, events): signatures over canonical JSON of the
document without its `signatures` member, and schema validation with clear 400 messages.

A signature entry is `{"key_id": ..., "sig": base64url(Ed25519(canonical bytes))}`; a document
may carry several (a discovery document during an overlap, a key.rotated event by old and new).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from federation.canonical import CanonicalJSONError, canonical_json
from federation.errors import FederationError
from federation.keys import NodeKey, b64url_decode, b64url_encode, verify_ed25519

__all__ = ["sign_document", "signed_bytes", "validate_schema", "verified_signers"]

_validators: dict[int, Draft202012Validator] = {}


def validate_schema(schema: Mapping[str, Any], value: Any, what: str) -> None:
    """400 schema_invalid naming the first offending location, e.g. `payload.petition.title`."""
    validator = _validators.get(id(schema))
    if validator is None:
        validator = _validators[id(schema)] = Draft202012Validator(schema)
    error = best_match(validator.iter_errors(value))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        raise FederationError(400, "schema_invalid", f"{what}: {where}: {error.message}")


def signed_bytes(document: Mapping[str, Any]) -> bytes:
    """The bytes every signature of `document` covers."""
    try:
        return canonical_json({k: v for k, v in document.items() if k != "signatures"})
    except CanonicalJSONError as exc:
        raise FederationError(400, "document_invalid", str(exc)) from None


def sign_document(document: Mapping[str, Any], keys: Sequence[NodeKey]) -> dict[str, Any]:
    """A copy of `document` with one signature per key (in the given order)."""
    message = signed_bytes(document)
    signatures = [{"key_id": key.key_id, "sig": b64url_encode(key.sign(message))} for key in keys]
    return {**{k: v for k, v in document.items() if k != "signatures"}, "signatures": signatures}


def verified_signers(document: Mapping[str, Any], public_keys: Mapping[str, bytes]) -> list[str]:
    """Key ids whose signature verifies, in document order. Any signature by a key not in
    `public_keys`, any invalid one and any repeated signer refuses the whole document: a
    document is not "valid enough" because one of its signatures is."""
    signatures = document.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise FederationError(401, "signature_missing", "the document is not signed")
    message = signed_bytes(document)
    signers: list[str] = []
    for entry in signatures:
        key_id = entry.get("key_id") if isinstance(entry, dict) else None
        if not isinstance(key_id, str) or key_id not in public_keys:
            raise FederationError(401, "unknown_key", f"signed by a key that may not sign it: {key_id!r}")
        if key_id in signers:
            raise FederationError(401, "signature_invalid", f"key {key_id} signed twice")
        try:
            signature = b64url_decode(entry.get("sig", ""))
        except ValueError:
            raise FederationError(401, "signature_invalid", "a signature is not base64url") from None
        if not verify_ed25519(public_keys[key_id], signature, message):
            raise FederationError(401, "signature_invalid", f"the signature by key {key_id} does not verify")
        signers.append(key_id)
    return signers
