"""RFC 9530 Content-Digest on receipt: strict, sha-256 and sha-512, unknown algorithms ignored."""

from __future__ import annotations

import pytest

from federation.digest import content_digest, verify_content_digest
from federation.errors import FederationError

BODY = b'{"hello": "world"}'


def code_of(value, body=BODY) -> str:
    with pytest.raises(FederationError) as caught:
        verify_content_digest(value, body)
    return caught.value.code


def test_sha256_and_sha512_are_accepted():
    verify_content_digest(content_digest(BODY), BODY)
    verify_content_digest(content_digest(BODY, "sha-512"), BODY)


def test_unknown_algorithms_are_ignored_beside_a_known_one():
    verify_content_digest(f"md5=:AAAA:, {content_digest(BODY)}, future-alg=?1", BODY)


def test_only_unknown_algorithms_is_refused():
    assert code_of("md5=:AAAA:, sha=:AAAA:") == "digest_unsupported"


def test_every_known_digest_present_must_match():
    wrong = content_digest(b"other", "sha-512")
    assert code_of(f"{content_digest(BODY)}, {wrong}") == "digest_mismatch"


def test_a_missing_digest_is_refused():
    assert code_of(None) == "digest_missing"


@pytest.mark.parametrize(
    "value", ["", "sha-256", "sha-256=abc", "sha-256=:@@:", "sha-256=(1 2)", "é", "sha-256=:AAAA:,"]
)
def test_malformed_digests_are_a_clean_401(value):
    with pytest.raises(FederationError) as caught:
        verify_content_digest(value, BODY)
    assert caught.value.status_code == 401
