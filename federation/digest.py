"""RFC 9530 Content-Digest over the raw body bytes.

We send `sha-256`. On receipt the field is parsed as a strict Structured Field Dictionary
(http_sfv): algorithms we do not know are ignored as RFC 9530 asks, `sha-256` and `sha-512`
are checked, at least one of them must be present, and every one present must match. Hashing
goes through `hash_body` so tests can prove no body was hashed before the size checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import http_sfv

from federation.errors import FederationError

__all__ = ["SUPPORTED_ALGORITHMS", "content_digest", "hash_body", "verify_content_digest"]

SUPPORTED_ALGORITHMS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def hash_body(algorithm: str, body: bytes) -> bytes:
    return SUPPORTED_ALGORITHMS[algorithm](body).digest()


def content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """The Content-Digest field value, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`."""
    return f"{algorithm}=:{base64.b64encode(hash_body(algorithm, body)).decode('ascii')}:"


def _malformed(detail: str) -> FederationError:
    return FederationError(401, "malformed_header", f"Content-Digest: {detail}")


def verify_content_digest(field_value: str | None, body: bytes) -> None:
    """Raise FederationError unless the field value names a supported digest of exactly `body`."""
    if field_value is None:
        raise FederationError(401, "digest_missing", "Content-Digest is required on requests with a body")
    parsed = http_sfv.Dictionary()
    try:
        parsed.parse(field_value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise _malformed("not a structured field dictionary") from None
    checked = 0
    for algorithm, member in parsed.items():
        if algorithm not in SUPPORTED_ALGORITHMS:
            continue
        if not isinstance(member, http_sfv.Item) or not isinstance(member.value, bytes):
            raise _malformed(f"{algorithm} must be a byte sequence")
        if not hmac.compare_digest(member.value, hash_body(algorithm, body)):
            raise FederationError(
                401, "digest_mismatch", f"the body does not match its {algorithm} Content-Digest"
            )
        checked += 1
    if not checked:
        raise FederationError(
            401, "digest_unsupported", "Content-Digest has neither sha-256 nor sha-512; send sha-256"
        )
