"""Byte-for-byte reproduction of the published examples. Every expected value below is copied
from the RFC text (RFC 9421 Appendix B.1.4, B.2 and B.2.6, https://www.rfc-editor.org/rfc/rfc9421),
never produced by our code."""

from __future__ import annotations

import base64

from federation.digest import content_digest, verify_content_digest
from federation.httpsig import HttpRequest, sign, signature_base
from federation.keys import load_private_key, raw_public_key, verify_ed25519

# RFC 9421 B.1.4 "Example Ed25519 Test Key" (test-key-ed25519).
RFC_PRIVATE_KEY_PEM = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
RFC_PUBLIC_KEY_SPKI_B64 = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="

# RFC 9421 B.2 "test-request" (the parts B.2.6 covers).
RFC_REQUEST = HttpRequest(
    method="POST",
    target_uri="https://example.com/foo?param=Value&Pet=dog",
    headers=[
        ("Host", "example.com"),
        ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
        ("Content-Type", "application/json"),
        (
            "Content-Digest",
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        ),
        ("Content-Length", "18"),
    ],
)
RFC_BODY = b'{"hello": "world"}'

# RFC 9421 B.2.6 "Signing a Request Using ed25519", with the RFC 8792 line wrapping undone.
B26_COMPONENTS = ["date", "@method", "@path", "@authority", "content-type", "content-length"]
B26_PARAMS = [("created", 1618884473), ("keyid", "test-key-ed25519")]
B26_SIGNATURE_BASE = (
    b'"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    b'"@method": POST\n'
    b'"@path": /foo\n'
    b'"@authority": example.com\n'
    b'"content-type": application/json\n'
    b'"content-length": 18\n'
    b'"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
    b';created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
)


def test_the_rfc_private_key_yields_the_published_public_key():
    key = load_private_key(RFC_PRIVATE_KEY_PEM)
    spki = base64.b64decode(RFC_PUBLIC_KEY_SPKI_B64)
    assert spki[-32:] == raw_public_key(key.private_key)


def test_b26_signature_base_is_reproduced_byte_for_byte():
    params_value = B26_SIGNATURE_INPUT.removeprefix("sig-b26=")
    assert signature_base(RFC_REQUEST, B26_COMPONENTS, params_value) == B26_SIGNATURE_BASE


def test_b26_signature_input_and_signature_are_reproduced_byte_for_byte():
    key = load_private_key(RFC_PRIVATE_KEY_PEM)
    signature_input, signature, base = sign(RFC_REQUEST, key, B26_COMPONENTS, B26_PARAMS, label="sig-b26")
    assert base == B26_SIGNATURE_BASE
    assert signature_input == B26_SIGNATURE_INPUT
    assert signature == B26_SIGNATURE


def test_b26_signature_verifies_with_the_published_public_key():
    public = base64.b64decode(RFC_PUBLIC_KEY_SPKI_B64)[-32:]
    raw_signature = base64.b64decode(B26_SIGNATURE.removeprefix("sig-b26=:").removesuffix(":"))
    assert verify_ed25519(public, raw_signature, B26_SIGNATURE_BASE)
    assert not verify_ed25519(public, raw_signature, B26_SIGNATURE_BASE.replace(b"POST", b"PUT "))


def test_the_test_request_content_digest_is_reproduced_and_accepted():
    assert content_digest(RFC_BODY, "sha-512") == dict(RFC_REQUEST.headers)["Content-Digest"]
    verify_content_digest(dict(RFC_REQUEST.headers)["Content-Digest"], RFC_BODY)


def test_rfc_9530_sha_256_example_is_reproduced():
    # RFC 9530 section 2, the same {"hello": "world"} content.
    assert content_digest(RFC_BODY) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
