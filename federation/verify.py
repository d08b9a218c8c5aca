"""The inbound verification pipeline, independent of the web framework.

The order is the protocol's (docs/federation.md "Verification order"), chosen so that the
cheap checks run first and nothing a stranger sends is hashed or looked up before it has to be:
declared size (411/413, before the body is read or hashed), header hygiene and the structured
fields, the time window, the pinned key's status, the signature, the body digest, and only
then the nonce is recorded (so a forged request cannot burn a legitimate nonce). The caller
parses JSON afterwards and checks that the node the body claims is the node that signed
(`check_claimed_node`). Every refusal is a FederationError; no other exception escapes.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

import http_sfv

from federation.digest import verify_content_digest
from federation.errors import FederationError
from federation.httpsig import (
    ALG,
    BODY_COMPONENTS,
    BODYLESS_COMPONENTS,
    MAX_VALIDITY_SECONDS,
    TAG,
    ComponentError,
    HttpRequest,
    serialize_signature_params,
    signature_base,
)
from federation.keyring import KeyStore
from federation.keys import verify_ed25519

__all__ = [
    "BODY_METHODS",
    "DEFAULT_MAX_BODY_BYTES",
    "SKEW_SECONDS",
    "InMemoryNonceStore",
    "NonceStore",
    "VerifiedRequest",
    "Verifier",
    "check_claimed_node",
    "check_declared_length",
    "normalize_origin",
    "target_uri",
]

log = logging.getLogger("groundswell.federation")

SKEW_SECONDS = 30
DEFAULT_MAX_BODY_BYTES = 1_048_576
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
REQUIRED_PARAMS = ("created", "expires", "nonce", "keyid", "alg", "tag")
# Fields that decide what is verified: more than one line of any of them is refused outright,
# because which line a framework or proxy keeps is exactly the ambiguity an attacker wants.
SINGLE_LINE_FIELDS = frozenset(
    {
        "signature",
        "signature-input",
        "content-digest",
        "content-type",
        "content-length",
        "idempotency-key",
        "transfer-encoding",
    }
)
_NONCE_RE = re.compile(r"^[\x21-\x7e]{16,256}$")
_LENGTH_RE = re.compile(r"^[0-9]{1,15}$")


class NonceStore(Protocol):
    def remember(self, key: str, until: int, now: int) -> bool:
        """Record `key` until `until`; False if it was already recorded and has not expired.
        Must be atomic (a database unique constraint, or a lock)."""
        ...


class InMemoryNonceStore:
    """A process-local NonceStore; several processes need the shared (database) one."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def remember(self, key: str, until: int, now: int) -> bool:
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: v for k, v in self._seen.items() if v >= now}
            expiry = self._seen.get(key)
            if expiry is not None and expiry >= now:
                return False
            self._seen[key] = until
            return True


@dataclass(frozen=True)
class VerifiedRequest:
    node_id: str
    key_id: str
    created: int
    expires: int
    nonce: str
    idempotency_key: str | None
    body: bytes


def normalize_origin(url: str) -> str:
    """scheme://host[:port] in lower case, default port and any path removed."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) origin: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def target_uri(public_url: str, path_and_query: str) -> str:
    """@target-uri as the verifier sees it: the configured public origin and the request's raw
    path and query. Host and X-Forwarded-* are never consulted."""
    if not path_and_query.startswith("/"):
        raise FederationError(400, "bad_target", "the request path must start with /")
    return normalize_origin(public_url) + path_and_query


def _header_lines(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name]


def check_declared_length(method: str, headers: Sequence[tuple[str, str]], max_body: int) -> int:
    """Run before the body is read: a body needs one decimal Content-Length (411), at most
    `max_body` (413). Chunked bodies are refused because their size is unknown until hashed."""
    if _header_lines(headers, "transfer-encoding"):
        raise FederationError(411, "length_required", "send Content-Length instead of Transfer-Encoding")
    lines = _header_lines(headers, "content-length")
    if len(lines) > 1:
        raise FederationError(401, "duplicate_header", "Content-Length appears more than once")
    if not lines:
        if method.upper() in BODY_METHODS:
            raise FederationError(411, "length_required", f"{method} requests need a Content-Length")
        return 0
    if not _LENGTH_RE.match(lines[0].strip()):
        raise FederationError(411, "length_required", "Content-Length must be a decimal number")
    declared = int(lines[0].strip())
    if declared > max_body:
        raise FederationError(
            413, "body_too_large", f"the body is {declared} bytes; the limit is {max_body}", limit=max_body
        )
    return declared


def check_claimed_node(verified: VerifiedRequest, claimed_node_id: object) -> None:
    """403 unless the node named in the (already parsed) body is the node whose key signed."""
    if claimed_node_id != verified.node_id:
        raise FederationError(
            403,
            "node_mismatch",
            f"the request is signed by node {verified.node_id} but the body claims {claimed_node_id!r}",
        )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _malformed(detail: str) -> FederationError:
    return FederationError(401, "malformed_header", detail)


def _parse_dictionary(name: str, value: str) -> http_sfv.Dictionary:
    parsed = http_sfv.Dictionary()
    try:
        parsed.parse(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise _malformed(f"{name} is not a valid structured field dictionary") from None
    return parsed


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_string(value: object) -> bool:
    return isinstance(value, str) and not isinstance(value, http_sfv.Token)


@dataclass(frozen=True)
class _SignatureInput:
    components: tuple[str, ...]
    created: int
    expires: int
    nonce: str
    keyid: str
    params_value: str
    signature: bytes


class Verifier:
    """Verifies signed requests addressed to this node. Construct once with the configured
    public URL, the pinned KeyStore and a NonceStore; `clock` is injectable for tests."""

    def __init__(
        self,
        *,
        public_url: str,
        keys: KeyStore,
        nonces: NonceStore,
        max_body: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
        skew: int = SKEW_SECONDS,
    ) -> None:
        self.origin = normalize_origin(public_url)
        self.keys = keys
        self.nonces = nonces
        self.max_body = max_body
        self.clock = clock
        self.skew = skew

    def verify(
        self, method: str, path_and_query: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> VerifiedRequest:
        try:
            return self._verify(method, path_and_query, headers, body)
        except FederationError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # Defence in depth: the checks above are meant to catch every malformed input, but
            # a peer must get a 401, not a 500, if one slipped through.
            log.warning("federation request refused by an unexpected parse error: %r", exc)
            raise _malformed("the signature headers could not be read") from None

    def _verify(
        self, method: str, path_and_query: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> VerifiedRequest:
        method = method.upper()
        has_body = method in BODY_METHODS
        # 1. Size, before anything is hashed.
        declared = check_declared_length(method, headers, self.max_body)
        if len(body) > self.max_body:
            raise FederationError(413, "body_too_large", f"the limit is {self.max_body} bytes")
        if not has_body and (declared or body):
            raise FederationError(400, "body_not_allowed", f"{method} requests carry no body")
        if len(body) != declared:
            raise FederationError(400, "length_mismatch", "the body length differs from Content-Length")
        # 2. Header hygiene and structured fields.
        lowered = [(name.lower(), value) for name, value in headers]
        for field in SINGLE_LINE_FIELDS:
            if len(_header_lines(lowered, field)) > 1:
                raise FederationError(401, "duplicate_header", f"{field} appears more than once")
        parsed = self._parse_signature(lowered, has_body)
        # 3. Time window.
        now = self.clock()
        self._check_time(parsed, now)
        # 4. The pinned key and its status (never fetched).
        pinned = self.keys.lookup(parsed.keyid)
        if pinned is None:
            raise FederationError(
                401, "unknown_key", f"keyid {parsed.keyid!r} is not pinned here; keys are never fetched"
            )
        if pinned.peer_suspended:
            raise FederationError(
                403, "peer_suspended", "this node's admin has suspended federation with you"
            )
        if pinned.status == "revoked":
            raise FederationError(401, "key_revoked", f"key {parsed.keyid} has been revoked")
        if pinned.status == "old" and (pinned.expires is None or now >= pinned.expires):
            raise FederationError(401, "key_expired", f"key {parsed.keyid} was rotated out and has expired")
        # 5. The signature, over a base rebuilt from our own public URL.
        request = HttpRequest(method, target_uri(self.origin, path_and_query), lowered)
        try:
            base = signature_base(request, parsed.components, parsed.params_value)
        except ComponentError as exc:
            raise FederationError(401, "component_missing", str(exc)) from None
        if not verify_ed25519(pinned.public_key, parsed.signature, base):
            raise FederationError(401, "signature_invalid", "the signature does not verify")
        # 6. The body against its (now authenticated) digest.
        idempotency_key = None
        if has_body:
            verify_content_digest(request.field("content-digest"), body)
            idempotency_key = self._idempotency_key(request.field("idempotency-key"))
        # 7. Only a fully valid request may consume its nonce.
        if not self.nonces.remember(f"{parsed.keyid} {parsed.nonce}", parsed.expires + self.skew, int(now)):
            raise FederationError(401, "replay", "this request (nonce) has already been received")
        return VerifiedRequest(
            node_id=pinned.node_id,
            key_id=parsed.keyid,
            created=parsed.created,
            expires=parsed.expires,
            nonce=parsed.nonce,
            idempotency_key=idempotency_key,
            body=body,
        )

    def _parse_signature(self, headers: list[tuple[str, str]], has_body: bool) -> _SignatureInput:
        input_lines = _header_lines(headers, "signature-input")
        signature_lines = _header_lines(headers, "signature")
        if not input_lines or not signature_lines:
            raise FederationError(401, "signature_missing", "Signature-Input and Signature are required")
        inputs = _parse_dictionary("Signature-Input", input_lines[0])
        signatures = _parse_dictionary("Signature", signature_lines[0])
        if len(inputs) > 1 or len(signatures) > 1:
            raise FederationError(401, "multiple_signatures", "exactly one signature is accepted")
        if len(inputs) != 1 or set(inputs) != set(signatures):
            raise _malformed("Signature-Input and Signature must carry the same single label")
        label = next(iter(inputs))
        member, signature = inputs[label], signatures[label]
        if not isinstance(member, http_sfv.InnerList):
            raise _malformed("the Signature-Input member must be an inner list of components")
        components: list[str] = []
        for item in member:
            if not _is_string(item.value) or len(item.params) or item.value != item.value.lower():
                raise _malformed("components must be lower-case strings without parameters")
            if item.value in components:
                raise _malformed(f"component {item.value!r} is listed twice")
            components.append(item.value)
        params = dict(member.params)
        unknown = sorted(set(params) - set(REQUIRED_PARAMS))
        if unknown:
            raise _malformed(f"unexpected signature parameters: {', '.join(unknown)}")
        missing = [name for name in REQUIRED_PARAMS if name not in params]
        if missing:
            raise _malformed(f"missing signature parameters: {', '.join(missing)}")
        if not (_is_int(params["created"]) and _is_int(params["expires"])):
            raise _malformed("created and expires must be integers")
        for name in ("nonce", "keyid", "alg", "tag"):
            if not _is_string(params[name]):
                raise _malformed(f"{name} must be a string")
        if params["alg"] != ALG:
            raise FederationError(401, "bad_alg", f'alg must be "{ALG}"')
        if params["tag"] != TAG:
            raise FederationError(401, "bad_tag", f'tag must be "{TAG}"')
        if not _NONCE_RE.match(params["nonce"]):
            raise _malformed("nonce must be 16 to 256 visible ASCII characters")
        required = BODY_COMPONENTS if has_body else BODYLESS_COMPONENTS
        uncovered = [name for name in required if name not in components]
        if uncovered:
            raise FederationError(
                401, "component_missing", f"the signature must cover {', '.join(repr(c) for c in uncovered)}"
            )
        if not isinstance(signature, http_sfv.Item) or not isinstance(signature.value, bytes):
            raise _malformed("the Signature member must be a byte sequence")
        if len(signature.params) or len(signature.value) != 64:
            raise _malformed("an Ed25519 signature is 64 bytes without parameters")
        return _SignatureInput(
            components=tuple(components),
            created=params["created"],
            expires=params["expires"],
            nonce=params["nonce"],
            keyid=params["keyid"],
            params_value=serialize_signature_params(components, list(member.params.items())),
            signature=signature.value,
        )

    def _check_time(self, parsed: _SignatureInput, now: float) -> None:
        server_time = int(now)
        if parsed.created > now + self.skew:
            raise FederationError(
                401,
                "clock_skew",
                f"created is {parsed.created - server_time} s ahead of this server's clock "
                f"(server time {server_time}, {_iso(now)}; tolerance ±{self.skew} s)",
                server_time=server_time,
            )
        if parsed.expires <= parsed.created:
            raise _malformed("expires must be after created")
        if parsed.expires - parsed.created > MAX_VALIDITY_SECONDS:
            raise FederationError(
                401, "validity_too_long", f"expires may be at most {MAX_VALIDITY_SECONDS} s after created"
            )
        if now > parsed.expires + self.skew:
            raise FederationError(
                401,
                "expired",
                f"the signature expired at {parsed.expires} (server time {server_time}, {_iso(now)})",
                server_time=server_time,
            )

    @staticmethod
    def _idempotency_key(value: str | None) -> str:
        item = http_sfv.Item()
        try:
            item.parse((value or "").encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise _malformed("Idempotency-Key must be a structured field string") from None
        if not _is_string(item.value) or not 1 <= len(item.value) <= 255:
            raise _malformed("Idempotency-Key must be a quoted string of 1 to 255 characters")
        return item.value
