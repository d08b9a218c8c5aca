"""Event envelopes, payload schemas, origin signatures, rotation, revocation, transactions,
retry policy, and the member-data guard."""

from __future__ import annotations

import random

import pytest

from federation.canonical import canonical_json
from federation.documents import sign_document
from federation.errors import FederationError
from federation.events import (
    MemberDataError,
    apply_key_revocation,
    apply_key_rotation,
    assert_no_member_data,
    build_event,
    build_key_rotation,
    validate_event,
    verify_event,
)
from federation.keys import generate_node_key
from federation.schemas import PAYLOAD_SCHEMAS
from federation.transactions import (
    BACKOFF_CAP_SECONDS,
    backoff_delay,
    build_transaction,
    is_dead_letter,
    parse_transaction,
)
from federation.verify import VerifiedRequest
from tests.federation.support import NOW, make_world

PETITION = {
    "id": "p-42",
    "version": 3,
    "slug": "fix-the-bridge",
    "title": "Fix the bridge",
    "body": "The bridge on Main Street has been closed since spring.",
    "targets": [{"name": "Jane Mayor", "title": "Mayor", "postal_area": "Springfield"}],
    "goal": 1000,
    "scope": {"country": "US", "region": "IL"},
    "status": "published",
    "url": "https://instance.example/p/fix-the-bridge",
    "published_at": NOW - 86400,
    "updated_at": NOW,
}

EXAMPLES = {
    "petition.published": {"petition": PETITION},
    "petition.updated": {"petition": PETITION},
    "petition.closed": {
        "petition": {"origin": "gs-aaaaaaaaaaaaaaaaaaaaaaaaaa", "id": "p-42"},
        "version": 4,
        "closed_at": NOW,
        "status": "closed",
    },
    "petition.counts": {
        "petition": {"origin": "gs-aaaaaaaaaaaaaaaaaaaaaaaaaa", "id": "p-42"},
        "sequence": 17,
        "as_of": NOW,
        "signatures": 5120,
    },
    "node.listed": {
        "node_id": "gs-bbbbbbbbbbbbbbbbbbbbbbbbbb",
        "origin": "https://council.example.org",
        "role": "instance",
        "keys": [{"key_id": "b" * 52, "public_key": "A" * 43}],
        "old_keys": [{"key_id": "c" * 52, "public_key": "B" * 43, "expires": NOW + 86400}],
        "revoked_keys": [],
        "version": 3,
        "listed": True,
    },
    "group.listed": {
        "group": {
            "id": "g-1",
            "version": 1,
            "name": "Springfield Council",
            "kind": "council",
            "url": "https://instance.example/groups/springfield",
        },
        "listed": True,
    },
    "event.listed": {
        "event": {
            "id": "e-1",
            "version": 2,
            "title": "Town hall",
            "starts_at": NOW + 86400,
            "timezone": "America/Chicago",
            "online": False,
            "locality": "Springfield",
            "url": "https://instance.example/events/e-1",
        },
        "listed": True,
    },
    "boost.request": {
        "boost_id": "b-1",
        "petition": {"origin": "gs-aaaaaaaaaaaaaaaaaaaaaaaaaa", "id": "p-42"},
        "target_count": 500,
        "deliver_by": NOW + 86400,
        "k_min": 50,
    },
    "boost.report": {
        "boost_id": "b-1",
        "petition": {"origin": "gs-aaaaaaaaaaaaaaaaaaaaaaaaaa", "id": "p-42"},
        "sequence": 2,
        "as_of": NOW,
        "sent": 500,
        "signed": 41,
        "unsubscribed": None,
        "refused": False,
    },
    "reach.report": {"sequence": 3, "as_of": NOW, "eligible": 1230},
}


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_every_event_type_round_trips_through_signing_and_verification(event_type):
    world = make_world()
    envelope = build_event(
        event_type, EXAMPLES[event_type], origin=world.alice.node_id, created=NOW, keys=[world.alice.key]
    )
    event = verify_event(envelope, world.keys)
    assert (event.type, event.origin, event.payload) == (
        event_type,
        world.alice.node_id,
        EXAMPLES[event_type],
    )


def test_every_payload_schema_has_an_example_here():
    assert set(PAYLOAD_SCHEMAS) == set(EXAMPLES) | {"key.rotated", "key.revoked"}


def test_a_payload_with_an_unknown_field_is_refused_on_receipt():
    world = make_world()
    envelope = build_event(
        "petition.counts",
        EXAMPLES["petition.counts"],
        origin=world.alice.node_id,
        created=NOW,
        keys=[world.alice.key],
    )
    envelope["payload"]["signer_emails"] = []
    with pytest.raises(FederationError) as caught:
        validate_event(envelope)
    assert caught.value.code == "schema_invalid"


def test_counts_must_be_integers():
    with pytest.raises(FederationError, match="signatures"):
        build_event(
            "petition.counts",
            {**EXAMPLES["petition.counts"], "signatures": "5120"},
            origin="gs-aaaaaaaaaaaaaaaaaaaaaaaaaa",
            created=NOW,
            keys=[generate_node_key()],
        )


def test_an_event_signed_by_another_node_key_is_refused():
    world = make_world()
    envelope = build_event(
        "petition.counts",
        EXAMPLES["petition.counts"],
        origin=world.bob.node_id,
        created=NOW,
        keys=[world.alice.key],
    )
    with pytest.raises(FederationError) as caught:
        verify_event(envelope, world.keys)
    assert (caught.value.status_code, caught.value.code) == (403, "node_mismatch")


def test_a_tampered_event_is_refused():
    world = make_world()
    envelope = build_event(
        "petition.counts",
        EXAMPLES["petition.counts"],
        origin=world.alice.node_id,
        created=NOW,
        keys=[world.alice.key],
    )
    envelope["payload"]["signatures"] += 1
    with pytest.raises(FederationError) as caught:
        verify_event(envelope, world.keys)
    assert caught.value.code == "signature_invalid"


def test_a_relayed_copy_signed_before_a_rotation_stays_valid_until_the_old_key_expires():
    world = make_world()
    envelope = build_event(
        "petition.published",
        EXAMPLES["petition.published"],
        origin=world.alice.node_id,
        created=NOW,
        keys=[world.alice.key],
    )
    world.alice.ring.retire(world.alice.key.key_id, NOW + 10)
    assert verify_event(envelope, world.keys)
    later = build_event(
        "petition.updated",
        EXAMPLES["petition.updated"],
        origin=world.alice.node_id,
        created=NOW + 20,
        keys=[world.alice.key],
    )
    with pytest.raises(FederationError) as caught:
        verify_event(later, world.keys)
    assert caught.value.code == "key_expired"


def test_a_rotation_signed_by_both_keys_pins_the_new_key_and_keeps_the_old_until_expiry():
    world = make_world()
    new = generate_node_key()
    envelope = build_key_rotation(
        world.alice.key, new, origin=world.alice.node_id, created=NOW, old_key_expires=NOW + 3600
    )
    ring = apply_key_rotation(world.alice.ring, world.alice.node_id, envelope, NOW)
    assert ring.get(new.key_id).status == "current"
    assert ring.get(world.alice.key.key_id).expires == NOW + 3600


@pytest.mark.parametrize("signer", ["old", "new"])
def test_a_rotation_signed_by_only_one_key_is_refused(signer):
    world = make_world()
    new = generate_node_key()
    envelope = build_key_rotation(
        world.alice.key, new, origin=world.alice.node_id, created=NOW, old_key_expires=NOW + 3600
    )
    envelope = sign_document(envelope, [world.alice.key if signer == "old" else new])
    with pytest.raises(FederationError) as caught:
        apply_key_rotation(world.alice.ring, world.alice.node_id, envelope, NOW)
    assert (caught.value.status_code, caught.value.code) == (401, "rotation_unconfirmed")
    assert world.alice.ring.get(new.key_id) is None


def test_a_rotation_by_an_attacker_key_pair_is_refused():
    world = make_world()
    attacker_old, attacker_new = generate_node_key(), generate_node_key()
    envelope = build_key_rotation(
        attacker_old, attacker_new, origin=world.alice.node_id, created=NOW, old_key_expires=NOW + 3600
    )
    with pytest.raises(FederationError) as caught:
        apply_key_rotation(world.alice.ring, world.alice.node_id, envelope, NOW)
    assert caught.value.code == "unknown_key"


def test_a_rotation_with_an_overlong_overlap_is_refused():
    world = make_world()
    envelope = build_key_rotation(
        world.alice.key,
        generate_node_key(),
        origin=world.alice.node_id,
        created=NOW,
        old_key_expires=NOW + 90 * 86400,
    )
    with pytest.raises(FederationError):
        apply_key_rotation(world.alice.ring, world.alice.node_id, envelope, NOW)


def test_a_revocation_marks_the_pinned_key_revoked():
    world = make_world()
    envelope = build_event(
        "key.revoked",
        {"key_id": world.alice.key.key_id, "revoked_at": NOW, "reason": "laptop stolen"},
        origin=world.alice.node_id,
        created=NOW,
        keys=[world.alice.key],
    )
    ring = apply_key_revocation(world.alice.ring, world.alice.node_id, envelope)
    assert ring.get(world.alice.key.key_id).status == "revoked"
    forged = build_event(
        "key.revoked",
        {"key_id": world.alice.key.key_id, "revoked_at": NOW},
        origin=world.alice.node_id,
        created=NOW,
        keys=[world.bob.key],
    )
    with pytest.raises(FederationError):
        apply_key_revocation(world.alice.ring, world.alice.node_id, forged)


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "x"},
        {"nested": [{"Person_ID": 1}]},
        {"text": "write to jane.doe@example.com"},
        {"text": "call +1 (555) 010-9999 today"},
        {"text": "call 555-010-9999"},
        {"given_name": "Jane"},
        {"signers": []},
    ],
)
def test_the_member_data_guard_catches_emails_phones_and_personal_fields(payload):
    with pytest.raises(MemberDataError):
        assert_no_member_data(payload)


def test_the_member_data_guard_lets_petition_copies_through():
    for example in EXAMPLES.values():
        assert_no_member_data(example)
    assert_no_member_data({"text": "1,000,000 people on 2024-05-01, id 8e03978e-40d5-43e8-bc93-6894a57f9324"})


def test_an_event_with_member_data_is_never_built():
    petition = {**PETITION, "body": "Questions? mail organizer@example.com"}
    with pytest.raises(MemberDataError):
        build_event(
            "petition.updated",
            {"petition": petition},
            origin="gs-aaaaaaaaaaaaaaaaaaaaaaaaaa",
            created=NOW,
            keys=[generate_node_key()],
        )


def _verified(node_id, body, txn_id="txn-0001"):
    return VerifiedRequest(node_id, "k", NOW, NOW + 300, "n" * 16, txn_id, body)


def test_a_transaction_is_checked_against_the_signer_the_path_and_the_destination():
    world = make_world()
    event = build_event(
        "petition.counts",
        EXAMPLES["petition.counts"],
        origin=world.alice.node_id,
        created=NOW,
        keys=[world.alice.key],
    )
    body = build_transaction(world.alice.node_id, world.bob.node_id, "txn-0001", [event])
    txn = parse_transaction(
        _verified(world.alice.node_id, body), path_txn_id="txn-0001", this_node_id=world.bob.node_id
    )
    assert txn.events == [event]
    with pytest.raises(FederationError) as caught:
        parse_transaction(
            _verified(world.bob.node_id, body), path_txn_id="txn-0001", this_node_id=world.bob.node_id
        )
    assert caught.value.code == "node_mismatch"
    with pytest.raises(FederationError) as caught:
        parse_transaction(
            _verified(world.alice.node_id, body), path_txn_id="txn-0002", this_node_id=world.bob.node_id
        )
    assert caught.value.code == "txn_mismatch"
    with pytest.raises(FederationError) as caught:
        parse_transaction(
            _verified(world.alice.node_id, body), path_txn_id="txn-0001", this_node_id=world.alice.node_id
        )
    assert caught.value.code == "wrong_destination"


def test_a_transaction_carries_at_most_50_events():
    with pytest.raises(ValueError):
        build_transaction(
            "gs-aaaaaaaaaaaaaaaaaaaaaaaaaa", "gs-bbbbbbbbbbbbbbbbbbbbbbbbbb", "txn-0001", [{}] * 51
        )
    body = canonical_json(
        {
            "origin": "gs-aaaaaaaaaaaaaaaaaaaaaaaaaa",
            "destination": "gs-bbbbbbbbbbbbbbbbbbbbbbbbbb",
            "txn_id": "txn-0001",
            "events": [{}] * 51,
        }
    )
    with pytest.raises(FederationError) as caught:
        parse_transaction(
            _verified("gs-aaaaaaaaaaaaaaaaaaaaaaaaaa", body),
            path_txn_id="txn-0001",
            this_node_id="gs-bbbbbbbbbbbbbbbbbbbbbbbbbb",
        )
    assert caught.value.code == "schema_invalid"


def test_backoff_grows_exponentially_with_jitter_and_is_capped_at_six_hours():
    rng = random.Random(7)
    first = [backoff_delay(1, rng) for _ in range(200)]
    assert max(first) <= 30 and min(first) >= 1 and len(set(first)) > 100
    late = [backoff_delay(40, rng) for _ in range(200)]
    assert max(late) <= BACKOFF_CAP_SECONDS and max(late) > BACKOFF_CAP_SECONDS / 2


def test_nothing_is_dead_lettered_before_30_days():
    assert not is_dead_letter(NOW, NOW + 30 * 86400 - 1)
    assert is_dead_letter(NOW, NOW + 30 * 86400)


def test_every_published_schema_is_a_valid_draft_2020_12_schema():
    from jsonschema import Draft202012Validator

    from federation import schemas

    for schema in [
        schemas.DISCOVERY_SCHEMA,
        schemas.PAIR_REQUEST_SCHEMA,
        schemas.TRANSACTION_SCHEMA,
        schemas.EVENTS_PAGE_SCHEMA,
        schemas.ENVELOPE_SCHEMA,
        *schemas.PAYLOAD_SCHEMAS.values(),
    ]:
        Draft202012Validator.check_schema(schema)
