"""RFC 9421 HTTP Message Signatures: component values, the signature base, and signing.

This is the general mechanism (enough of it to reproduce RFC 9421 Appendix B.2.6 byte for
byte); `federation.verify` applies our strict profile on top. We build on `http_sfv` and
`cryptography` directly rather than the `http-message-signatures` package; docs/federation.md
("Why our own RFC 9421 code") gives the reasons.

Profile "groundswell-v1": label `gs`, alg="ed25519", covered components
`"@method" "@target-uri" "content-type" "content-digest" "idempotency-key"` for requests with
a body and `"@method" "@target-uri"` without one, parameters created, expires (at most 300 s
after created), a random nonce, keyid and tag="groundswell-v1".
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import http_sfv

from federation.digest import content_digest
from federation.keys import NodeKey

__all__ = [
    "ALG",
    "BODYLESS_COMPONENTS",
    "BODY_COMPONENTS",
    "LABEL",
    "MAX_VALIDITY_SECONDS",
    "TAG",
    "ComponentError",
    "HttpRequest",
    "new_idempotency_key",
    "new_nonce",
    "serialize_signature_params",
    "sign",
    "sign_request",
    "signature_base",
]

TAG = "groundswell-v1"
ALG = "ed25519"
LABEL = "gs"
MAX_VALIDITY_SECONDS = 300
BODY_COMPONENTS = ("@method", "@target-uri", "content-type", "content-digest", "idempotency-key")
BODYLESS_COMPONENTS = ("@method", "@target-uri")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Param = tuple[str, int | str]


class ComponentError(ValueError):
    """A covered component cannot be resolved from the message (absent, unknown, not ASCII)."""


@dataclass(frozen=True)
class HttpRequest:
    """The parts of a request a signature can cover. `target_uri` is absolute; on the receiving
    side it is rebuilt from the configured public URL, never from Host or X-Forwarded-*."""

    method: str
    target_uri: str
    headers: Sequence[tuple[str, str]] = ()

    def field_lines(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def field(self, name: str) -> str | None:
        lines = self.field_lines(name)
        # RFC 9421 §2.1: each line's value trimmed, multiple lines joined with ", ".
        return ", ".join(line.strip(" \t") for line in lines) if lines else None

    def component_value(self, name: str) -> str:
        if name.startswith("@"):
            return self._derived(name)
        if name != name.lower():
            raise ComponentError(f"component names are lower case, got {name!r}")
        value = self.field(name)
        if value is None:
            raise ComponentError(f"the covered header {name!r} is not in the request")
        return value

    def _derived(self, name: str) -> str:
        parts = urlsplit(self.target_uri)
        if name == "@method":
            return self.method
        if name == "@target-uri":
            return self.target_uri
        if name == "@scheme":
            return parts.scheme.lower()
        if name == "@authority":
            host = (parts.hostname or "").lower()
            if ":" in host:
                host = f"[{host}]"
            port = parts.port
            return (
                host if port is None or _DEFAULT_PORTS.get(parts.scheme.lower()) == port else f"{host}:{port}"
            )
        if name == "@path":
            return parts.path or "/"
        if name == "@query":
            return f"?{parts.query}"
        if name == "@request-target":
            return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        raise ComponentError(f"unsupported derived component {name!r}")


def serialize_signature_params(components: Sequence[str], params: Sequence[Param]) -> str:
    """The `@signature-params` value, identical to the Signature-Input member value."""
    inner = http_sfv.InnerList(list(components))
    for key, value in params:
        inner.params[key] = value
    return str(inner)


def signature_base(request: HttpRequest, components: Sequence[str], params_value: str) -> bytes:
    lines = []
    for name in components:
        value = request.component_value(name)
        if "\n" in value or "\r" in value:
            raise ComponentError(f"{name!r} contains a line break")
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {params_value}')
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError:
        raise ComponentError("covered components must be ASCII") from None


def sign(
    request: HttpRequest,
    key: NodeKey,
    components: Sequence[str],
    params: Sequence[Param],
    label: str = LABEL,
) -> tuple[str, str, bytes]:
    """Sign `components` of `request`; returns (Signature-Input value, Signature value, base)."""
    params_value = serialize_signature_params(components, params)
    base = signature_base(request, components, params_value)
    signature = key.sign(base)
    signature_field = str(http_sfv.Dictionary({label: signature}))
    return f"{label}={params_value}", signature_field, base


def new_nonce() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(18)).decode("ascii")


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def sign_request(
    method: str,
    target_uri: str,
    key: NodeKey,
    *,
    now: int,
    body: bytes | None = None,
    idempotency_key: str | None = None,
    content_type: str = "application/json",
    validity: int = MAX_VALIDITY_SECONDS,
    nonce: str | None = None,
) -> list[tuple[str, str]]:
    """Every header our profile needs for one request (a body implies POST/PUT semantics):
    Content-Type, Content-Length, Content-Digest and Idempotency-Key when there is a body,
    then Signature-Input and Signature."""
    headers: list[tuple[str, str]] = []
    if body is not None:
        key_value = str(http_sfv.Item(idempotency_key or new_idempotency_key()))
        headers += [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Content-Digest", content_digest(body)),
            ("Idempotency-Key", key_value),
        ]
        components: Sequence[str] = BODY_COMPONENTS
    else:
        components = BODYLESS_COMPONENTS
    params: list[Param] = [
        ("created", now),
        ("expires", now + validity),
        ("nonce", nonce or new_nonce()),
        ("keyid", key.key_id),
        ("alg", ALG),
        ("tag", TAG),
    ]
    signature_input, signature, _ = sign(HttpRequest(method, target_uri, headers), key, components, params)
    return [*headers, ("Signature-Input", signature_input), ("Signature", signature)]
