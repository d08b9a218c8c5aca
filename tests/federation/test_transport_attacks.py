"""The inbound verifier against the attack and fault checklist of issue 6, one test each.
Each test starts from a request a real peer would send and changes exactly one thing."""

from __future__ import annotations

import base64

import pytest

import federation.digest
from federation.errors import FederationError
from federation.httpsig import HttpRequest, sign, sign_request
from federation.verify import check_claimed_node, check_declared_length
from tests.federation.support import (
    BODY,
    HUB_URL,
    NOW,
    SEND_PATH,
    header,
    make_world,
    replace_header,
    signed_put,
    without_header,
)


def refused(world, headers, body=BODY, method="PUT", path=SEND_PATH) -> FederationError:
    with pytest.raises(FederationError) as caught:
        world.verifier.verify(method, path, headers, body)
    return caught.value


def test_a_correctly_signed_request_is_accepted_and_names_its_node():
    world = make_world()
    verified = world.verifier.verify("PUT", SEND_PATH, signed_put(world.alice.key), BODY)
    assert verified.node_id == world.alice.node_id
    assert verified.key_id == world.alice.key.key_id
    assert verified.idempotency_key == "txn-0001"
    assert verified.body == BODY


def test_a_signed_get_covers_only_method_and_target_uri():
    world = make_world()
    headers = sign_request("GET", HUB_URL + "/federation/v1/events?since=42", world.alice.key, now=NOW)
    verified = world.verifier.verify("GET", "/federation/v1/events?since=42", headers, b"")
    assert verified.node_id == world.alice.node_id
    assert verified.idempotency_key is None
    error = refused(world, headers, b"", "GET", "/federation/v1/events?since=0")
    assert error.code == "signature_invalid"


def test_a_one_byte_body_tamper_is_refused():
    world = make_world()
    tampered = BODY.replace(b"x", b"y")
    assert len(tampered) == len(BODY) and sum(a != b for a, b in zip(tampered, BODY, strict=True)) == 1
    error = refused(world, signed_put(world.alice.key), tampered)
    assert (error.status_code, error.code) == (401, "digest_mismatch")


def test_a_swapped_digest_header_matching_a_tampered_body_is_refused():
    world = make_world()
    tampered = BODY.replace(b"x", b"y")
    headers = replace_header(
        signed_put(world.alice.key), "Content-Digest", federation.digest.content_digest(tampered)
    )
    error = refused(world, headers, tampered)
    assert (error.status_code, error.code) == (401, "signature_invalid")


@pytest.mark.parametrize("component", ["content-digest", "@target-uri", "idempotency-key"])
def test_a_signature_not_covering_a_required_component_is_refused(component):
    world = make_world()
    base_headers = signed_put(world.alice.key)[:4]  # content headers, without the signature
    components = [
        c
        for c in ("@method", "@target-uri", "content-type", "content-digest", "idempotency-key")
        if c != component
    ]
    params = [
        ("created", NOW),
        ("expires", NOW + 300),
        ("nonce", "n" * 24),
        ("keyid", world.alice.key.key_id),
        ("alg", "ed25519"),
        ("tag", "groundswell-v1"),
    ]
    signature_input, signature, _ = sign(
        HttpRequest("PUT", HUB_URL + SEND_PATH, base_headers), world.alice.key, components, params
    )
    headers = [*base_headers, ("Signature-Input", signature_input), ("Signature", signature)]
    error = refused(world, headers)
    assert (error.status_code, error.code) == (401, "component_missing")
    assert component in error.message


def test_an_exact_replay_inside_the_window_is_refused():
    world = make_world()
    headers = signed_put(world.alice.key)
    world.verifier.verify("PUT", SEND_PATH, headers, BODY)
    world.clock.now += 10
    error = refused(world, headers)
    assert (error.status_code, error.code) == (401, "replay")


def test_a_forged_request_does_not_burn_the_nonce_of_a_real_one():
    world = make_world()
    headers = signed_put(world.alice.key)
    refused(world, headers, BODY.replace(b"x", b"y"))
    assert world.verifier.verify("PUT", SEND_PATH, headers, BODY).node_id == world.alice.node_id


def test_an_expired_signature_is_refused_with_the_server_time():
    world = make_world()
    headers = signed_put(world.alice.key, now=NOW - 400)
    error = refused(world, headers)
    assert (error.status_code, error.code) == (401, "expired")
    assert str(NOW) in error.message and error.details["server_time"] == NOW


def test_a_signature_created_in_the_future_is_refused():
    world = make_world()
    error = refused(world, signed_put(world.alice.key, now=NOW + 3600))
    assert (error.status_code, error.code) == (401, "clock_skew")


def test_a_validity_longer_than_300_seconds_is_refused():
    world = make_world()
    error = refused(world, signed_put(world.alice.key, validity=301))
    assert (error.status_code, error.code) == (401, "validity_too_long")


def test_a_clock_25_seconds_ahead_is_accepted():
    world = make_world()
    assert world.verifier.verify("PUT", SEND_PATH, signed_put(world.alice.key, now=NOW + 25), BODY)


def test_a_clock_40_seconds_ahead_is_refused_with_the_server_time_in_the_error():
    world = make_world()
    error = refused(world, signed_put(world.alice.key, now=NOW + 40))
    assert (error.status_code, error.code) == (401, "clock_skew")
    assert f"server time {NOW}" in error.message
    assert error.as_json()["server_time"] == NOW


def test_an_unknown_keyid_is_refused_from_the_pinned_store_alone(monkeypatch):
    world = make_world()
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the verifier must never open a connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    lookups: list[str] = []
    real_lookup = world.keys.lookup
    monkeypatch.setattr(world.keys, "lookup", lambda key_id: lookups.append(key_id) or real_lookup(key_id))
    stranger = make_world().alice.key
    headers = signed_put(stranger)
    error = refused(world, headers)
    assert (error.status_code, error.code) == (401, "unknown_key")
    assert lookups == [stranger.key_id]


def test_a_keyid_that_looks_like_a_url_is_only_a_label():
    world = make_world()
    headers = signed_put(world.alice.key)
    spoofed = header(headers, "Signature-Input").replace(world.alice.key.key_id, "https://evil.example/key")
    error = refused(world, replace_header(headers, "Signature-Input", spoofed))
    assert error.code == "unknown_key"


def test_node_a_key_on_a_body_claiming_node_b_is_refused_with_403():
    world = make_world()
    verified = world.verifier.verify("PUT", SEND_PATH, signed_put(world.alice.key), BODY)
    with pytest.raises(FederationError) as caught:
        check_claimed_node(verified, world.bob.node_id)
    assert (caught.value.status_code, caught.value.code) == (403, "node_mismatch")
    check_claimed_node(verified, world.alice.node_id)


def test_a_revoked_key_is_refused():
    world = make_world()
    world.alice.ring.revoke(world.alice.key.key_id, NOW - 60)
    error = refused(world, signed_put(world.alice.key))
    assert (error.status_code, error.code) == (401, "key_revoked")


def test_an_old_key_is_accepted_during_the_overlap_and_refused_after_expiry():
    world = make_world()
    old = world.alice.key
    world.alice.ring.retire(old.key_id, NOW + 100)
    assert world.verifier.verify("PUT", SEND_PATH, signed_put(old), BODY)
    world.clock.now = NOW + 101
    error = refused(world, signed_put(old, now=NOW + 101))
    assert (error.status_code, error.code) == (401, "key_expired")


def test_the_admin_kill_switch_refuses_a_peer():
    world = make_world()
    world.keys.suspend(world.alice.node_id)
    error = refused(world, signed_put(world.alice.key))
    assert (error.status_code, error.code) == (403, "peer_suspended")
    world.keys.suspend(world.alice.node_id, False)
    assert world.verifier.verify("PUT", SEND_PATH, signed_put(world.alice.key), BODY)


def test_a_request_signed_for_another_host_is_refused():
    world = make_world()
    headers = signed_put(world.alice.key, url="https://other-hub.example.org" + SEND_PATH)
    assert refused(world, headers).code == "signature_invalid"


def test_a_request_signed_for_another_path_is_refused():
    world = make_world()
    headers = signed_put(world.alice.key, url=HUB_URL + "/federation/v1/send/txn-0002")
    assert refused(world, headers).code == "signature_invalid"


def test_forged_host_and_x_forwarded_host_are_ignored():
    world = make_world()
    forged = [("Host", "evil.example"), ("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "http")]
    verified = world.verifier.verify("PUT", SEND_PATH, [*forged, *signed_put(world.alice.key)], BODY)
    assert verified.node_id == world.alice.node_id
    evil = signed_put(world.alice.key, url="https://evil.example" + SEND_PATH)
    assert refused(world, [*forged, *evil]).code == "signature_invalid"


def test_a_wrong_alg_is_refused():
    world = make_world()
    headers = signed_put(world.alice.key)
    changed = header(headers, "Signature-Input").replace('alg="ed25519"', 'alg="rsa-pss-sha512"')
    error = refused(world, replace_header(headers, "Signature-Input", changed))
    assert (error.status_code, error.code) == (401, "bad_alg")


def test_two_signatures_are_refused():
    world = make_world()
    first = signed_put(world.alice.key)
    second = signed_put(world.bob.key)
    two_inputs = (
        header(first, "Signature-Input") + ", " + header(second, "Signature-Input").replace("gs=", "gs2=", 1)
    )
    two_sigs = header(first, "Signature") + ", " + header(second, "Signature").replace("gs=", "gs2=", 1)
    headers = replace_header(replace_header(first, "Signature-Input", two_inputs), "Signature", two_sigs)
    error = refused(world, headers)
    assert (error.status_code, error.code) == (401, "multiple_signatures")


def test_a_wrong_tag_is_refused():
    world = make_world()
    headers = signed_put(world.alice.key)
    changed = header(headers, "Signature-Input").replace('tag="groundswell-v1"', 'tag="other-app"')
    error = refused(world, replace_header(headers, "Signature-Input", changed))
    assert (error.status_code, error.code) == (401, "bad_tag")


_REST = 'keyid="k";alg="ed25519";tag="groundswell-v1"'
_NONCE = 'nonce="nnnnnnnnnnnnnnnn"'
MALFORMED_SIGNATURE_INPUTS = [
    "",
    "gs",
    "gs=",
    "gs=(",
    'gs=("@method" "@target-uri"',
    "gs=:AAAA:",
    'gs=("@method");created=abc;expires=1;nonce="n";keyid="k";alg="ed25519";tag="groundswell-v1"',
    f"gs=(@method @target-uri);created=1;expires=2;{_NONCE};{_REST}",
    'gs=("@METHOD");created=1',
    'gs=("@method";req);created=1',
    'gs=("@method");created=99999999999999999999',
    'gs=("@method");created=?1;expires=2;nonce="nnnnnnnnnnnnnnnn";keyid="k";alg="ed25519";tag="groundswell-v1"',
    f'gs=("@method" "@method");created=1;expires=2;{_NONCE};{_REST}',
    'gs=("@method");created=1;expires=2;nonce="short";keyid="k";alg="ed25519";tag="groundswell-v1"',
    'gs=("@method");created=1;expires=2;nonce="nnnnnnnnnnnnnnnn";keyid="k";alg="ed25519";tag="groundswell-v1";extra=1',
    'gs=("@method");expires=2;nonce="nnnnnnnnnnnnnnnn";keyid="k";alg="ed25519";tag="groundswell-v1"',
    "other=()",
    'gs=("\u00e9")',
    "gs=()\x00",
]


@pytest.mark.parametrize("value", MALFORMED_SIGNATURE_INPUTS)
def test_malformed_signature_input_is_a_401_never_an_exception(value, caplog):
    world = make_world()
    error = refused(world, replace_header(signed_put(world.alice.key), "Signature-Input", value))
    assert error.status_code == 401
    assert error.code in {"malformed_header", "component_missing"}
    assert "unexpected" not in caplog.text  # refused by a deliberate check, not the safety net


MALFORMED_SIGNATURES = [
    "",
    "gs=",
    "gs=abc",
    "gs=:not base64:",
    "gs=:AAAA:",
    "gs=:" + "A" * 86 + "==:;x=1",
    "gs=(1 2)",
    "gs=?1",
]


@pytest.mark.parametrize("value", MALFORMED_SIGNATURES)
def test_malformed_signature_is_a_401_never_an_exception(value, caplog):
    world = make_world()
    error = refused(world, replace_header(signed_put(world.alice.key), "Signature", value))
    assert (error.status_code, error.code) == (401, "malformed_header")
    assert "unexpected" not in caplog.text


@pytest.mark.parametrize("value", ["sha-256", "sha-256=abc", "sha-256=:###:", "sha-256=:AAAA:, ", "\u00e9"])
def test_a_malformed_content_digest_is_a_401(value):
    world = make_world()
    error = refused(world, replace_header(signed_put(world.alice.key), "Content-Digest", value))
    assert error.status_code == 401


def test_a_malformed_idempotency_key_is_a_401():
    world = make_world()
    headers = signed_put(world.alice.key)
    # Signed as sent, so the signature is valid and only the value's syntax is wrong.
    bad = [(k, v) for k, v in headers if k not in ("Signature-Input", "Signature")]
    bad = replace_header(bad, "Idempotency-Key", "not-a-string")
    params = [
        ("created", NOW),
        ("expires", NOW + 300),
        ("nonce", "m" * 24),
        ("keyid", world.alice.key.key_id),
        ("alg", "ed25519"),
        ("tag", "groundswell-v1"),
    ]
    components = ["@method", "@target-uri", "content-type", "content-digest", "idempotency-key"]
    signature_input, signature, _ = sign(
        HttpRequest("PUT", HUB_URL + SEND_PATH, bad), world.alice.key, components, params
    )
    error = refused(world, [*bad, ("Signature-Input", signature_input), ("Signature", signature)])
    assert (error.status_code, error.code) == (401, "malformed_header")


@pytest.mark.parametrize(
    "name", ["Signature", "Signature-Input", "Content-Digest", "Idempotency-Key", "Content-Type"]
)
def test_a_duplicated_header_line_is_refused(name):
    world = make_world()
    headers = signed_put(world.alice.key)
    error = refused(world, [*headers, (name, header(headers, name))])
    assert (error.status_code, error.code) == (401, "duplicate_header")


def test_the_same_header_in_two_cases_counts_as_a_duplicate():
    world = make_world()
    headers = signed_put(world.alice.key)
    error = refused(world, [*headers, ("content-digest", header(headers, "Content-Digest"))])
    assert error.code == "duplicate_header"


def test_mixed_case_header_names_are_accepted():
    world = make_world()
    headers = [(name.swapcase(), value) for name, value in signed_put(world.alice.key)]
    assert world.verifier.verify("PUT", SEND_PATH, headers, BODY).node_id == world.alice.node_id


def test_missing_signature_headers_are_refused():
    world = make_world()
    error = refused(world, without_header(signed_put(world.alice.key), "Signature"))
    assert (error.status_code, error.code) == (401, "signature_missing")


def test_a_body_over_the_limit_is_refused_with_413_before_any_hashing(monkeypatch):
    world = make_world(max_body=1024)
    hashed: list[int] = []
    real = federation.digest.hash_body
    monkeypatch.setattr(
        federation.digest, "hash_body", lambda alg, body: hashed.append(len(body)) or real(alg, body)
    )
    large = b"x" * 2048
    headers = signed_put(world.alice.key, large)
    hashed.clear()
    error = refused(world, headers, large)
    assert (error.status_code, error.code) == (413, "body_too_large")
    assert hashed == []


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read():
    headers = [("Content-Length", "5000000")]
    with pytest.raises(FederationError) as caught:
        check_declared_length("PUT", headers, 1_048_576)
    assert (caught.value.status_code, caught.value.code) == (413, "body_too_large")


def test_a_body_without_content_length_is_refused_with_411_before_any_hashing(monkeypatch):
    world = make_world()
    headers = without_header(signed_put(world.alice.key), "Content-Length")
    hashed: list[int] = []
    monkeypatch.setattr(federation.digest, "hash_body", lambda alg, body: hashed.append(len(body)))
    error = refused(world, headers)
    assert (error.status_code, error.code) == (411, "length_required")
    chunked = [*headers, ("Transfer-Encoding", "chunked")]
    assert refused(world, chunked).status_code == 411
    assert hashed == []


def test_a_content_length_that_disagrees_with_the_body_is_refused():
    world = make_world()
    headers = replace_header(signed_put(world.alice.key), "Content-Length", str(len(BODY) + 1))
    assert refused(world, headers).code == "length_mismatch"


def test_an_invalid_signature_value_is_refused():
    world = make_world()
    headers = signed_put(world.alice.key)
    other = base64.b64encode(world.alice.key.sign(b"something else")).decode()
    error = refused(world, replace_header(headers, "Signature", f"gs=:{other}:"))
    assert (error.status_code, error.code) == (401, "signature_invalid")


def test_a_get_with_a_body_is_refused():
    world = make_world()
    headers = sign_request("GET", HUB_URL + "/federation/v1/events?since=0", world.alice.key, now=NOW)
    error = refused(world, [*headers, ("Content-Length", "2")], b"{}", "GET", "/federation/v1/events?since=0")
    assert (error.status_code, error.code) == (400, "body_not_allowed")
