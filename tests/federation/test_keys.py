"""Node keys: fingerprint and keyid forms, storage on disk, mounted secrets, rotation state."""

from __future__ import annotations

import base64
import hashlib
import re
import stat
import threading

import pytest

from federation.keyring import KeyRing, NodeIdentity, PinnedKeyStore
from federation.keys import (
    PRIVATE_KEY_FILE,
    b64url_decode,
    b64url_encode,
    federation_dir,
    fingerprint,
    fingerprints_match,
    generate_node_key,
    key_id_for,
    load_or_create_private_key,
    load_private_key,
    normalize_fingerprint,
)
from tests.federation.support import NOW

ZERO_KEY = bytes(32)


def test_a_fingerprint_is_13_groups_of_4_upper_case_base32_characters():
    value = fingerprint(generate_node_key().public_bytes)
    assert re.fullmatch(r"([A-Z2-7]{4}-){12}[A-Z2-7]{4}", value)


def test_a_fingerprint_is_unpadded_base32_of_the_sha256_of_the_raw_key():
    expected = base64.b32encode(hashlib.sha256(ZERO_KEY).digest()).decode().rstrip("=")
    assert len(expected) == 52
    assert fingerprint(ZERO_KEY).replace("-", "") == expected
    assert key_id_for(ZERO_KEY) == expected.lower()


def test_fingerprints_compare_ignoring_case_spaces_and_hyphens():
    key = generate_node_key()
    shown = key.fingerprint
    assert fingerprints_match(shown, key.public_bytes)
    assert fingerprints_match(shown.lower().replace("-", " "), key.public_bytes)
    assert fingerprints_match(shown.replace("-", ""), key.public_bytes)
    assert not fingerprints_match(shown, generate_node_key().public_bytes)
    assert not fingerprints_match("not a fingerprint", key.public_bytes)
    with pytest.raises(ValueError, match="52 characters"):
        normalize_fingerprint("ABCD-EFGH")


def test_base64url_is_unpadded_and_strict():
    assert b64url_encode(b"\xff\xfe") == "__4"
    assert b64url_decode("__4") == b"\xff\xfe"
    for bad in ("__4=", "//4", "_", "__5"):
        with pytest.raises(ValueError):
            b64url_decode(bad)


def test_the_key_is_generated_once_with_mode_0600(tmp_path):
    first = load_or_create_private_key(tmp_path)
    path = federation_dir(tmp_path) / PRIVATE_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert load_or_create_private_key(tmp_path).key_id == first.key_id
    assert [p.name for p in path.parent.iterdir()] == [PRIVATE_KEY_FILE]  # no temporary files left


def test_processes_starting_together_end_up_with_one_key(tmp_path):
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(load_or_create_private_key(tmp_path).key_id))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1


def test_a_mounted_secret_is_read_as_pem_or_raw_base64_and_never_written(tmp_path):
    key = generate_node_key()
    pem = tmp_path / "secret.pem"
    pem.write_bytes(key.pem())
    assert load_or_create_private_key(tmp_path / "data", pem).key_id == key.key_id
    seed = key.private_key.private_bytes_raw()
    raw = tmp_path / "secret.b64"
    raw.write_text(base64.b64encode(seed).decode() + "\n")
    assert load_or_create_private_key(tmp_path / "data", raw).key_id == key.key_id
    assert not (tmp_path / "data").exists()


def test_an_unusable_secret_says_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_or_create_private_key(tmp_path, tmp_path / "missing")
    with pytest.raises(ValueError, match="32 bytes"):
        load_private_key(base64.b64encode(b"short"))
    with pytest.raises(ValueError, match="PEM"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")


def test_node_identity_keeps_its_id_and_rotates_with_an_overlap(tmp_path):
    identity = NodeIdentity(tmp_path)
    node_id, key, ring = identity.load(NOW)
    assert re.fullmatch(r"gs-[a-z2-7]{26}", node_id)
    assert [e.key_id for e in ring.with_status("current")] == [key.key_id]
    old, new = identity.rotate(NOW, overlap_seconds=3600)
    assert old.key_id == key.key_id and new.key_id != key.key_id
    again_id, current, ring = NodeIdentity(tmp_path).load(NOW + 1)
    assert again_id == node_id and current.key_id == new.key_id
    assert ring.get(old.key_id).state_at(NOW + 10) == "active"
    assert ring.get(old.key_id).state_at(NOW + 3600) == "expired"
    assert identity.revoke(old.key_id, NOW + 5).status == "revoked"
    with pytest.raises(ValueError, match="rotate"):
        identity.revoke(new.key_id, NOW + 5)


def test_a_replaced_secret_retires_the_previous_key_at_once(tmp_path):
    secret = tmp_path / "secret.pem"
    secret.write_bytes(generate_node_key().pem())
    _, first, _ = NodeIdentity(tmp_path / "data", secret).load(NOW)
    secret.write_bytes(generate_node_key().pem())
    _, second, ring = NodeIdentity(tmp_path / "data", secret).load(NOW + 60)
    assert ring.get(first.key_id).state_at(NOW + 60) == "expired"
    assert ring.get(second.key_id).status == "current"
    with pytest.raises(ValueError, match="mounted secret"):
        NodeIdentity(tmp_path / "data", secret).rotate(NOW)


def test_a_revoked_key_cannot_become_current_again():
    key = generate_node_key()
    ring = KeyRing()
    ring.add_current(key.public_bytes)
    ring.revoke(key.key_id, NOW)
    with pytest.raises(ValueError, match="revoked"):
        ring.add_current(key.public_bytes)
    assert KeyRing.from_json(ring.to_json()).get(key.key_id).status == "revoked"


def test_a_key_ring_refuses_a_keyid_that_does_not_name_its_key():
    entry = KeyRing()
    entry.add_current(generate_node_key().public_bytes)
    data = entry.to_json()
    data[0]["key_id"] = key_id_for(ZERO_KEY)
    with pytest.raises(ValueError, match="does not name"):
        KeyRing.from_json(data)


def test_one_key_cannot_be_pinned_for_two_nodes():
    key = generate_node_key()
    ring = KeyRing()
    ring.add_current(key.public_bytes)
    store = PinnedKeyStore()
    store.pin("gs-aaaaaaaaaaaaaaaaaaaaaaaaaa", ring)
    with pytest.raises(ValueError, match="already pinned"):
        store.pin("gs-bbbbbbbbbbbbbbbbbbbbbbbbbb", ring)
