"""The discovery document and the pairing checks made on it."""

from __future__ import annotations

import pytest

from federation.canonical import canonical_json
from federation.discovery import build_discovery_document, parse_discovery_document
from federation.documents import sign_document
from federation.errors import FederationError
from federation.keyring import KeyRing
from federation.keys import generate_node_key
from tests.federation.support import NOW, Node

HUB = "https://hub.example.org"


def hub_document(node: Node, **overrides):
    document = build_discovery_document(
        node_id=node.node_id, origin=HUB, role="hub", ring=node.ring, signing_keys=[node.key], now=NOW
    )
    return document | overrides


def refused(data, **kwargs) -> FederationError:
    kwargs.setdefault("fetched_from", HUB)
    kwargs.setdefault("now", NOW)
    with pytest.raises(FederationError) as caught:
        parse_discovery_document(data, **kwargs)
    return caught.value


def test_a_node_document_verifies_with_the_invite_fingerprint():
    hub = Node.create()
    raw = canonical_json(hub_document(hub))
    parsed = parse_discovery_document(
        raw,
        fetched_from=HUB + "/.well-known/groundswell",
        now=NOW + 60,
        pinned_fingerprint=hub.key.fingerprint.lower(),
        expected_role="hub",
    )
    assert parsed.node_id == hub.node_id
    assert parsed.origin == HUB
    assert parsed.endpoints["send"] == HUB + "/federation/v1/send/{txn_id}"
    assert parsed.ring.get(hub.key.key_id).status == "current"


def test_a_document_fetched_from_another_origin_is_refused():
    hub = Node.create()
    error = refused(canonical_json(hub_document(hub)), fetched_from="https://evil.example")
    assert (error.status_code, error.code) == (403, "origin_mismatch")


def test_a_document_whose_key_does_not_match_the_invite_fingerprint_is_refused():
    hub = Node.create()
    error = refused(canonical_json(hub_document(hub)), pinned_fingerprint=generate_node_key().fingerprint)
    assert (error.status_code, error.code) == (403, "fingerprint_mismatch")


def test_an_impostor_copying_the_hub_document_with_its_own_key_is_refused():
    hub, impostor = Node.create(), Node.create()
    forged = sign_document(hub_document(impostor) | {"node_id": hub.node_id}, [impostor.key])
    error = refused(canonical_json(forged), pinned_fingerprint=hub.key.fingerprint)
    assert error.code == "fingerprint_mismatch"


def test_a_tampered_document_is_refused():
    hub = Node.create()
    tampered = hub_document(hub) | {"role": "instance"}
    assert refused(canonical_json(tampered)).code == "signature_invalid"


def test_a_document_not_signed_by_every_current_key_is_refused():
    hub = Node.create()
    second = generate_node_key()
    ring = KeyRing.of(hub.ring.entries.values())
    ring.add_current(second.public_bytes)
    document = build_discovery_document(
        node_id=hub.node_id,
        origin=HUB,
        role="hub",
        ring=ring,
        signing_keys=sorted([hub.key, second], key=lambda k: k.key_id),
        now=NOW,
    )
    only_one = sign_document(document, [hub.key])
    assert refused(canonical_json(only_one)).code == "signature_missing"
    assert parse_discovery_document(canonical_json(document), fetched_from=HUB, now=NOW).ring.get(
        second.key_id
    )


def test_an_expired_or_overlong_document_is_refused():
    hub = Node.create()
    assert refused(canonical_json(hub_document(hub)), now=NOW + 86_401).code == "document_expired"
    overlong = sign_document(hub_document(hub, valid_until=NOW + 8 * 86_400), [hub.key])
    assert refused(canonical_json(overlong)).code == "document_invalid"


def test_a_document_with_unknown_fields_or_a_wrong_protocol_is_refused():
    hub = Node.create()
    assert refused(sign_document(hub_document(hub, extra=1), [hub.key])).code == "schema_invalid"
    assert refused(sign_document(hub_document(hub, protocol="other/2"), [hub.key])).code == "schema_invalid"


def test_endpoints_must_live_under_the_origin():
    hub = Node.create()
    document = hub_document(hub)
    document["endpoints"] = {**document["endpoints"], "send": "https://evil.example/send"}
    assert refused(sign_document(document, [hub.key])).code == "document_invalid"


def test_old_and_revoked_keys_are_published_with_their_dates():
    hub = Node.create()
    old, revoked = generate_node_key(), generate_node_key()
    hub.ring.add_current(old.public_bytes)
    hub.ring.retire(old.key_id, NOW + 3600)
    hub.ring.add_current(revoked.public_bytes)
    hub.ring.revoke(revoked.key_id, NOW - 10)
    parsed = parse_discovery_document(canonical_json(hub_document(hub)), fetched_from=HUB, now=NOW)
    assert parsed.ring.get(old.key_id).expires == NOW + 3600
    assert parsed.ring.get(revoked.key_id).status == "revoked"


def test_a_document_that_is_not_strict_json_is_refused():
    assert refused(b'{"protocol": 1.5}').code == "document_invalid"
    assert refused(b"not json").code == "document_invalid"
