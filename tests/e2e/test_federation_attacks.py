"""Issue 6's attack and fault checklist, over real HTTP between processes: every item is its
own test (parametrized where it is a family) and asserts the HTTP status and the
machine-readable `error` code (and, where the protocol promises one, the message).

The federation: a hub and three instances, each a `groundswell serve` process with its own
data dir and database, paired with the CLI as docs/federation.md §13 tells an operator. The
hub sits behind a fault-injecting reverse proxy (tests/support/fault_proxy.py): its
GROUNDSWELL_PUBLIC_URL is the proxy's URL, so every request the instances send it goes through
the proxy, which records each body and can answer 500 after the hub has committed.

This test process plays a malicious or faulty peer: it signs with a real instance's private
key (`<data dir>/federation/node_key.pem`) and sends straight to the port the hub listens on,
while signatures must cover the hub's public origin (the proxy's URL). `one` and `two` are
ordinary instances; `spare` is the one whose keys are rotated and revoked and whose pairing is
suspended, so those tests change no other test's peer. The in-process versions of these
checks (tests/federation/test_transport_attacks.py, test_receiving.py) stay; this module shows
the same refusals survive a real HTTP stack: uvicorn, header parsing, separate databases.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import json
import re
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from federation.digest import content_digest
from federation.events import build_event
from federation.httpsig import (
    ALG,
    BODY_COMPONENTS,
    LABEL,
    MAX_VALIDITY_SECONDS,
    TAG,
    HttpRequest,
    new_nonce,
    sign,
    sign_request,
)
from federation.keys import NodeKey, b64url_encode, generate_node_key, load_private_key
from federation.transactions import build_transaction, new_txn_id, send_path
from tests.e2e.federation_nodes import Node, hub_petitions, join_command, node_database
from tests.support.fault_proxy import FaultProxy
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

Headers = list[tuple[str, str]]


# --- the federation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """An instance as the attacking test process sees it."""

    node: Node
    node_id: str

    @property
    def key(self) -> NodeKey:
        """The instance's current private key (read each time: rotation replaces it)."""
        return load_private_key((self.node.instance.data_dir / "federation" / "node_key.pem").read_bytes())


@dataclass(frozen=True)
class Federation:
    hub: Node
    hub_id: str
    proxy: FaultProxy
    one: Peer
    two: Peer
    spare: Peer


@pytest.fixture(scope="module")
def fed(tmp_path_factory) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp("federation-attacks")
    with contextlib.ExitStack() as stack, concurrent.futures.ThreadPoolExecutor(4) as pool:
        proxy = stack.enter_context(FaultProxy())
        databases = [stack.enter_context(node_database()) for _ in range(4)]
        names, roles = ("hub", "one", "two", "spare"), ("hub", "instance", "instance", "instance")
        public_urls = (proxy.url, "", "", "")

        def make(name: str, role: str, database_url: str, public_url: str) -> Node:
            return Node(root / name, role, database_url=database_url, public_url=public_url)

        # Four processes to start and (on PostgreSQL) four databases to migrate: side by side.
        hub, *instances = pool.map(make, names, roles, databases, public_urls)
        proxy.upstream = hub.listen_url
        list(pool.map(stack.enter_context, [node.serving() for node in (hub, *instances)]))
        hub_id = _node_id(hub)
        joined = list(pool.map(lambda node: _join(hub, node), instances))
        for node_id in joined:  # one approval at a time, as one admin gives them
            hub.run_ok("federation", "approve", node_id)
        one, two, spare = (Peer(node, node_id) for node, node_id in zip(instances, joined, strict=True))
        yield Federation(hub, hub_id, proxy, one, two, spare)


def _node_id(node: Node) -> str:
    return httpx.get(node.listen_url + "/.well-known/groundswell", timeout=10).json()["node_id"]


def _join(hub: Node, node: Node) -> str:
    """The operator's first two commands (docs/federation.md §13), invite and join; returns the
    instance's node id for `approve`. Unlike `pair`, nothing waits for the instance to list the
    hub as active after approval (that follows the hub's first signed request to it, sent by
    its background sweep within 15 s): an instance delivers to a pending hub anyway."""
    invite = hub.run_ok("federation", "invite", "--origin", node.url)
    node.run_ok(*join_command(invite.stdout))
    return _node_id(node)


# --- crafting what a peer sends ----------------------------------------------------------------


def _now() -> int:
    return int(time.time())


def _tag() -> str:
    return secrets.token_hex(5)


def counts_event(
    peer: Peer, petition_id: str, sequence: int, signatures: int, *, key: NodeKey | None = None
) -> dict[str, Any]:
    return build_event(
        "petition.counts",
        {
            "petition": {"origin": peer.node_id, "id": petition_id},
            "sequence": sequence,
            "as_of": _now(),
            "signatures": signatures,
        },
        origin=peer.node_id,
        created=_now(),
        keys=[key or peer.key],
    )


def text_event(peer: Peer, petition_id: str, version: int, title: str) -> dict[str, Any]:
    kind = "petition.published" if version == 1 else "petition.updated"
    slug = f"p-{petition_id.lower()}"
    return build_event(
        kind,
        {
            "petition": {
                "id": petition_id,
                "version": version,
                "slug": slug,
                "title": title,
                "body": "Keep the reading room open on Sundays for students and families.",
                "targets": [{"name": "The Council", "title": "City council"}],
                "status": "published",
                "url": f"{peer.node.url}/p/{slug}",
                "published_at": _now(),
                "updated_at": _now(),
            }
        },
        origin=peer.node_id,
        created=_now(),
        keys=[peer.key],
    )


def transaction(
    fed: Federation, sender: Peer, events: Sequence[dict[str, Any]], *, origin: str | None = None
) -> tuple[str, bytes]:
    txn_id = new_txn_id()
    return txn_id, build_transaction(origin or sender.node_id, fed.hub_id, txn_id, list(events))


def signed(
    fed: Federation,
    key: NodeKey,
    txn_id: str,
    body: bytes,
    *,
    target: str | None = None,
    created: int | None = None,
    validity: int = MAX_VALIDITY_SECONDS,
) -> Headers:
    """Exactly what an instance sends (federation.httpsig.sign_request), for the hub's origin."""
    return sign_request(
        "PUT",
        target or fed.hub.url + send_path(txn_id),
        key,
        now=_now() if created is None else created,
        body=body,
        idempotency_key=txn_id,
        validity=validity,
    )


def content_headers(body: bytes, txn_id: str, **swapped: str) -> Headers:
    """The body's headers as a peer sends them; `swapped` changes values (by header name with
    `_` for `-`), before anything is signed."""
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Content-Digest": content_digest(body),
        "Idempotency-Key": f'"{txn_id}"',
    }
    for name, value in swapped.items():
        headers[name.replace("_", "-")] = value
    return list(headers.items())


def signed_custom(
    fed: Federation,
    key: NodeKey,
    txn_id: str,
    headers: Headers,
    *,
    components: Sequence[str] = BODY_COMPONENTS,
    keyid: str | None = None,
    alg: str = ALG,
    tag: str = TAG,
    label: str = LABEL,
) -> Headers:
    """A genuine signature by `key` over `headers` with any profile parameters: the request is
    refused for what the test changed, never for a signature that does not verify."""
    created = _now()
    params: list[tuple[str, int | str]] = [
        ("created", created),
        ("expires", created + MAX_VALIDITY_SECONDS),
        ("nonce", new_nonce()),
        ("keyid", keyid or key.key_id),
        ("alg", alg),
        ("tag", tag),
    ]
    request = HttpRequest("PUT", fed.hub.url + send_path(txn_id), headers)
    signature_input, signature, _ = sign(request, key, components, params, label=label)
    return [*headers, ("Signature-Input", signature_input), ("Signature", signature)]


def replaced(headers: Headers, name: str, value: str) -> Headers:
    return [(k, value if k.lower() == name.lower() else v) for k, v in headers]


def header(headers: Headers, name: str) -> str:
    return next(v for k, v in headers if k.lower() == name.lower())


def put(fed: Federation, txn_id: str, body: bytes, headers: Headers) -> httpx.Response:
    """Straight to the port the hub listens on (not through the proxy)."""
    return httpx.put(fed.hub.listen_url + send_path(txn_id), content=body, headers=headers, timeout=30)


def refusal(response: httpx.Response) -> tuple[int, str]:
    assert response.headers.get("content-type", "").startswith("application/json"), response.text
    return response.status_code, response.json()["error"]


def send_retrying(
    fed: Federation, txn_id: str, body: bytes, make_headers: Callable[[], Headers]
) -> tuple[httpx.Response, Headers]:
    """Send freshly signed copies until one is not told to wait: the instances' own deliveries
    may hold the hub's one-transaction-per-peer slot for a moment (429), and a real sender
    retries. Returns the answer and the headers it was given for."""

    def attempt() -> tuple[httpx.Response, Headers] | None:
        headers = make_headers()
        response = put(fed, txn_id, body, headers)
        return None if response.status_code == 429 else (response, headers)

    return wait_until(attempt, timeout=30, interval=0.2)


def deliver(fed: Federation, key: NodeKey, txn_id: str, body: bytes) -> httpx.Response:
    """What a sender does: sign for the hub's origin, send, retry while rate-limited."""
    return send_retrying(fed, txn_id, body, lambda: signed(fed, key, txn_id, body))[0]


def accepted(response: httpx.Response, *event_ids: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data = response.json()
    assert all(data["results"][event_id] == "ok" for event_id in event_ids), data
    return data


def raw_exchange(url: str, head: str, body: bytes = b"", timeout: float = 15.0) -> tuple[int, bytes]:
    """Send a request exactly as written (header names, case and lines as given; no body unless
    `body`) and read one response. A server that waits for body bytes that never come times
    out here, which is how the size tests prove the body was never read."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode("latin-1") + body)
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            data = response.read()
        except TimeoutError:
            pytest.fail(f"no answer within {timeout}s: the server waited for the body")
        return response.status, data


def hub_pinned_keys(fed: Federation, peer: Peer) -> dict[str, dict[str, Any]]:
    """The hub's pinned key ring for `peer` (federation_peer.keys), by key id."""
    [(text,)] = fed.hub.sql(f"SELECT keys FROM federation_peer WHERE node_id = '{peer.node_id}'")
    return {entry["key_id"]: entry for entry in json.loads(text)}


def count_samples(fed: Federation, origin: str, petition_prefix: str) -> tuple[int, int]:
    """(count reports applied, distinct copies) on the hub for petitions whose id starts so."""
    [(applied, copies)] = fed.hub.sql(
        "SELECT COUNT(*), COUNT(DISTINCT c.id) FROM federation_count_sample s JOIN federation_copy c "
        f"ON s.\"copy\" = c.id WHERE c.origin_node = '{origin}' AND c.origin_id LIKE '{petition_prefix}%'"
    )
    return int(applied), int(copies)


def copy_state(fed: Federation, origin: str, petition_id: str) -> tuple[int, int]:
    """(text version, signature count) of the hub's copy of one petition."""
    [row] = fed.hub.sql(
        f"SELECT text_version, signature_count FROM federation_copy WHERE key = '{origin}:{petition_id}'"
    )
    return int(row[0]), int(row[1])


# --- tampering with the message ----------------------------------------------------------------


def test_a_one_byte_body_tamper_is_refused_with_digest_mismatch(fed):
    event = counts_event(fed.two, f"atk-{_tag()}", 1, 10)
    txn_id, body = transaction(fed, fed.two, [event])
    tampered = body.replace(b'"signatures":10', b'"signatures":90')
    assert len(tampered) == len(body) and sum(a != b for a, b in zip(body, tampered, strict=True)) == 1
    response = put(fed, txn_id, tampered, signed(fed, fed.two.key, txn_id, body))
    assert refusal(response) == (401, "digest_mismatch")


def test_a_content_digest_swapped_to_match_a_tampered_body_is_refused_with_signature_invalid(fed):
    event = counts_event(fed.two, f"atk-{_tag()}", 1, 10)
    txn_id, body = transaction(fed, fed.two, [event])
    tampered = body.replace(b'"signatures":10', b'"signatures":90')
    headers = replaced(signed(fed, fed.two.key, txn_id, body), "Content-Digest", content_digest(tampered))
    response = put(fed, txn_id, tampered, headers)
    assert refusal(response) == (401, "signature_invalid")


@pytest.mark.parametrize("component", ["content-digest", "@target-uri", "idempotency-key"])
def test_a_signature_not_covering_a_required_component_is_refused(fed, component):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    components = [c for c in BODY_COMPONENTS if c != component]
    headers = signed_custom(fed, fed.two.key, txn_id, content_headers(body, txn_id), components=components)
    response = put(fed, txn_id, body, headers)
    assert refusal(response) == (401, "component_missing")
    assert component in response.json()["message"]


def test_an_exact_replay_inside_the_window_is_refused(fed):
    event = counts_event(fed.two, f"atk-{_tag()}", 1, 3)
    txn_id, body = transaction(fed, fed.two, [event])
    first, headers = send_retrying(fed, txn_id, body, lambda: signed(fed, fed.two.key, txn_id, body))
    accepted(first, event["id"])
    replay = put(fed, txn_id, body, headers)
    assert refusal(replay) == (401, "replay")


# --- the time window -----------------------------------------------------------------------


def _assert_server_time(response: httpx.Response) -> None:
    data = response.json()
    assert abs(data["server_time"] - time.time()) < 30, data
    assert f"server time {data['server_time']}" in data["message"], data


def test_an_expired_signature_is_refused_with_the_server_time(fed):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    response = put(fed, txn_id, body, signed(fed, fed.two.key, txn_id, body, created=_now() - 400))
    assert refusal(response) == (401, "expired")
    _assert_server_time(response)


def test_a_signature_created_in_the_future_is_refused_as_clock_skew(fed):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    response = put(fed, txn_id, body, signed(fed, fed.two.key, txn_id, body, created=_now() + 3600))
    assert refusal(response) == (401, "clock_skew")
    _assert_server_time(response)


def test_a_validity_longer_than_300_seconds_is_refused(fed):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    response = put(fed, txn_id, body, signed(fed, fed.two.key, txn_id, body, validity=301))
    assert refusal(response) == (401, "validity_too_long")


def test_a_clock_25_seconds_ahead_is_accepted(fed):
    event = counts_event(fed.two, f"atk-{_tag()}", 1, 1)
    txn_id, body = transaction(fed, fed.two, [event])
    response, _ = send_retrying(
        fed, txn_id, body, lambda: signed(fed, fed.two.key, txn_id, body, created=_now() + 25)
    )
    accepted(response, event["id"])


def test_a_clock_40_seconds_ahead_is_refused_with_the_server_time_in_json_and_message(fed):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    response = put(fed, txn_id, body, signed(fed, fed.two.key, txn_id, body, created=_now() + 40))
    assert refusal(response) == (401, "clock_skew")
    _assert_server_time(response)


# --- keys ------------------------------------------------------------------------------------


def test_an_unknown_keyid_that_is_a_url_is_refused_and_never_fetched(fed):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        key_url = f"http://127.0.0.1:{listener.getsockname()[1]}/keys/main"
        stranger = generate_node_key()
        txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
        headers = signed_custom(fed, stranger, txn_id, content_headers(body, txn_id), keyid=key_url)
        response = put(fed, txn_id, body, headers)
        assert refusal(response) == (401, "unknown_key")
        # Nothing connected to the URL, during the request or in the second after it.
        readable, _, _ = select.select([listener], [], [], 1.0)
        assert readable == [], "the hub opened a connection to the keyid URL"


def test_node_a_key_on_a_body_claiming_node_b_is_refused_with_403(fed):
    event = counts_event(fed.one, f"atk-{_tag()}", 1, 1)
    txn_id, body = transaction(fed, fed.one, [event], origin=fed.two.node_id)
    response = put(fed, txn_id, body, signed(fed, fed.one.key, txn_id, body))
    assert refusal(response) == (403, "node_mismatch")


def _rotate(fed: Federation, peer: Peer) -> tuple[NodeKey, NodeKey]:
    """`groundswell federation rotate-key` on the instance, then wait until the hub has applied
    its key.rotated (new key current, old key `old` with an expiry)."""
    old = peer.key
    peer.node.run_ok("federation", "rotate-key")
    new = peer.key
    assert new.key_id != old.key_id
    _deliver_until(fed, peer, lambda keys: keys.get(new.key_id, {}).get("status") == "current")
    assert hub_pinned_keys(fed, peer)[old.key_id]["status"] == "old"
    return old, new


def _deliver_until(fed: Federation, peer: Peer, applied: Callable[[dict[str, dict[str, Any]]], bool]) -> None:
    # The CLI queued the event in the instance's database; `groundswell federation deliver`
    # sends it now (the server's own sweep would within 15 s, and does if the CLI finds a
    # delivery already in progress).
    peer.node.run_ok("federation", "deliver")
    wait_until(lambda: applied(hub_pinned_keys(fed, peer)), timeout=45, interval=0.5)


def test_a_revoked_key_is_refused(fed):
    spare = fed.spare
    old, new = _rotate(fed, spare)
    spare.node.run_ok("federation", "revoke-key", old.key_id, "--reason", "laptop stolen")
    _deliver_until(fed, spare, lambda keys: keys[old.key_id]["status"] == "revoked")

    event = counts_event(spare, f"atk-{_tag()}", 1, 1, key=new)
    txn_id, body = transaction(fed, spare, [event])
    assert refusal(put(fed, txn_id, body, signed(fed, old, txn_id, body))) == (401, "key_revoked")
    accepted(deliver(fed, new, txn_id, body), event["id"])


def test_an_old_key_is_accepted_during_the_overlap_and_refused_after_its_expiry(fed):
    spare = fed.spare
    old, new = _rotate(fed, spare)
    during = counts_event(spare, f"atk-{_tag()}", 1, 1, key=new)
    txn_id, body = transaction(fed, spare, [during])
    accepted(deliver(fed, old, txn_id, body), during["id"])

    [(original,)] = fed.hub.sql(f"SELECT keys FROM federation_peer WHERE node_id = '{spare.node_id}'")
    ring = json.loads(original)
    for entry in ring:
        if entry["key_id"] == old.key_id:
            entry["expires"] = _now() - 60
    try:
        fed.hub.sql(
            f"UPDATE federation_peer SET keys = '{json.dumps(ring)}' WHERE node_id = '{spare.node_id}'"
        )
        after = counts_event(spare, f"atk-{_tag()}", 1, 1, key=new)
        txn_id, body = transaction(fed, spare, [after])
        assert refusal(put(fed, txn_id, body, signed(fed, old, txn_id, body))) == (401, "key_expired")
        accepted(deliver(fed, new, txn_id, body), after["id"])
    finally:
        # The instance itself still signs with the old key until its own overlap ends; put the
        # hub's record back so its later deliveries (and other tests) are unaffected.
        fed.hub.sql(f"UPDATE federation_peer SET keys = '{original}' WHERE node_id = '{spare.node_id}'")


@pytest.mark.parametrize("signed_by", ["old key only", "new key only"])
def test_a_key_rotation_signed_by_one_key_is_refused_and_the_old_key_stays_pinned(fed, signed_by):
    two = fed.two
    before = hub_pinned_keys(fed, two)
    old, new = two.key, generate_node_key()
    rotation = build_event(
        "key.rotated",
        {
            "old_key": {"key_id": old.key_id, "public_key": b64url_encode(old.public_bytes)},
            "new_key": {"key_id": new.key_id, "public_key": b64url_encode(new.public_bytes)},
            "old_key_expires": _now() + 7 * 86400,
        },
        origin=two.node_id,
        created=_now(),
        keys=[old if signed_by == "old key only" else new],
    )
    txn_id, body = transaction(fed, two, [rotation])
    response = deliver(fed, old, txn_id, body)
    assert response.status_code == 200, response.text
    assert response.json()["results"] == {rotation["id"]: "rotation_unconfirmed"}
    assert hub_pinned_keys(fed, two) == before
    assert before[old.key_id]["status"] == "current" and new.key_id not in before
    txn_id, body = transaction(fed, two, [counts_event(two, f"atk-{_tag()}", 1, 1)])
    assert refusal(put(fed, txn_id, body, signed(fed, new, txn_id, body))) == (401, "unknown_key")


def test_a_suspended_peer_is_refused_with_403(fed):
    spare = fed.spare
    fed.hub.run_ok("federation", "suspend", spare.node_id)
    try:
        txn_id, body = transaction(fed, spare, [counts_event(spare, f"atk-{_tag()}", 1, 1)])
        response = put(fed, txn_id, body, signed(fed, spare.key, txn_id, body))
        assert refusal(response) == (403, "peer_suspended")
    finally:
        fed.hub.run_ok("federation", "unsuspend", spare.node_id)


# --- where the request is addressed --------------------------------------------------------------


@pytest.mark.parametrize("host", ["http://evil.example", "listen_url"])
def test_a_request_signed_for_another_host_is_refused(fed, host):
    """Signed for another origin — or for the address the hub listens on, which is not the
    public origin it is configured with."""
    origin = fed.hub.listen_url if host == "listen_url" else host
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    headers = signed(fed, fed.two.key, txn_id, body, target=origin + send_path(txn_id))
    assert refusal(put(fed, txn_id, body, headers)) == (401, "signature_invalid")


def test_a_request_signed_for_another_path_is_refused(fed):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    headers = signed(fed, fed.two.key, txn_id, body, target=fed.hub.url + send_path(new_txn_id()))
    assert refusal(put(fed, txn_id, body, headers)) == (401, "signature_invalid")


FORGED = [("Host", "evil.example"), ("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https")]


def test_forged_host_and_x_forwarded_host_are_ignored(fed):
    event = counts_event(fed.two, f"atk-{_tag()}", 1, 1)
    txn_id, body = transaction(fed, fed.two, [event])
    response, _ = send_retrying(fed, txn_id, body, lambda: [*FORGED, *signed(fed, fed.two.key, txn_id, body)])
    accepted(response, event["id"])

    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    for_forged = signed(fed, fed.two.key, txn_id, body, target="https://evil.example" + send_path(txn_id))
    assert refusal(put(fed, txn_id, body, [*FORGED, *for_forged])) == (401, "signature_invalid")


# --- the signature profile -------------------------------------------------------------------


def test_a_wrong_alg_is_refused(fed):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    headers = signed_custom(fed, fed.two.key, txn_id, content_headers(body, txn_id), alg="rsa-pss-sha512")
    assert refusal(put(fed, txn_id, body, headers)) == (401, "bad_alg")


def test_two_signatures_are_refused(fed):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    by_two = signed(fed, fed.two.key, txn_id, body)
    by_one = signed_custom(fed, fed.one.key, txn_id, content_headers(body, txn_id), label="second")
    headers = replaced(
        replaced(
            by_two,
            "Signature-Input",
            header(by_two, "Signature-Input") + ", " + header(by_one, "Signature-Input"),
        ),
        "Signature",
        header(by_two, "Signature") + ", " + header(by_one, "Signature"),
    )
    assert refusal(put(fed, txn_id, body, headers)) == (401, "multiple_signatures")


def test_a_wrong_tag_is_refused(fed):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    headers = signed_custom(fed, fed.two.key, txn_id, content_headers(body, txn_id), tag="other-app-v1")
    assert refusal(put(fed, txn_id, body, headers)) == (401, "bad_tag")


# Malformed structured fields. Signature-Input and Signature are replaced after signing (they
# are parsed before any signature check); Content-Digest and Idempotency-Key are signed as sent,
# so the signature verifies and only the field's syntax is wrong.
MALFORMED = [
    pytest.param("Signature-Input", "gs", "malformed_header", id="input-bare-label"),
    pytest.param("Signature-Input", "gs=(", "malformed_header", id="input-open-list"),
    pytest.param("Signature-Input", 'gs=("@method" "@target-uri"', "malformed_header", id="input-unclosed"),
    pytest.param("Signature-Input", "gs=:AAAA:", "malformed_header", id="input-not-a-list"),
    pytest.param("Signature-Input", 'gs=("@method");created=abc', "malformed_header", id="input-token-time"),
    pytest.param(
        "Signature-Input", 'gs=("@method");created=9999999999999999', "malformed_header", id="input-int"
    ),
    pytest.param("Signature-Input", 'gs=("@method" "@method")', "malformed_header", id="input-repeated"),
    pytest.param("Signature-Input", "gs=()\xe9", "malformed_header", id="input-non-ascii"),
    pytest.param("Signature", "gs=", "malformed_header", id="signature-empty"),
    pytest.param("Signature", "gs=abc", "malformed_header", id="signature-token"),
    pytest.param("Signature", "gs=:not base64:", "malformed_header", id="signature-bad-base64"),
    pytest.param("Signature", "gs=:AAAA:", "malformed_header", id="signature-short"),
    pytest.param("Signature", "gs=(1 2)", "malformed_header", id="signature-list"),
    pytest.param("Content-Digest", "sha-256", "malformed_header", id="digest-bare"),
    pytest.param("Content-Digest", "sha-256=abc", "malformed_header", id="digest-token"),
    pytest.param("Content-Digest", "sha-256=:###:", "malformed_header", id="digest-bad-base64"),
    pytest.param("Content-Digest", "sha-256=:AAAA:,", "malformed_header", id="digest-trailing-comma"),
    pytest.param("Content-Digest", "md5=:AAAA:", "digest_unsupported", id="digest-unknown-alg"),
    pytest.param("Idempotency-Key", "not-a-string", "malformed_header", id="idem-token"),
    pytest.param("Idempotency-Key", '"unterminated', "malformed_header", id="idem-unterminated"),
    pytest.param("Idempotency-Key", '""', "malformed_header", id="idem-empty"),
    pytest.param("Idempotency-Key", "42", "malformed_header", id="idem-integer"),
]


@pytest.mark.parametrize(("field", "value", "code"), MALFORMED)
def test_a_malformed_structured_field_is_a_401_with_a_code_and_no_traceback(fed, field, value, code):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    if field in ("Signature-Input", "Signature"):
        headers = replaced(signed(fed, fed.two.key, txn_id, body), field, value)
    else:
        sent = content_headers(body, txn_id, **{field.replace("-", "_"): value})
        headers = signed_custom(fed, fed.two.key, txn_id, sent)
    stderr = fed.hub.server.stderr_path
    logged_before = stderr.stat().st_size
    response = httpx.put(
        fed.hub.listen_url + send_path(txn_id),
        content=body,
        headers=[(k, v.encode("latin-1")) for k, v in headers],
        timeout=30,
    )
    assert refusal(response) == (401, code)
    with stderr.open("rb") as log:
        log.seek(logged_before)
        assert b"Traceback" not in log.read()


@pytest.mark.parametrize(
    "name", ["Signature", "Signature-Input", "Content-Digest", "Idempotency-Key", "Content-Type"]
)
def test_a_duplicated_header_line_is_refused(fed, name):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    headers = signed(fed, fed.two.key, txn_id, body)
    response = put(fed, txn_id, body, [*headers, (name, header(headers, name))])
    assert refusal(response) == (401, "duplicate_header")
    assert name.lower() in response.json()["message"]


def test_content_digest_and_content_digest_in_lower_case_are_two_lines_of_one_field(fed):
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    headers = signed(fed, fed.two.key, txn_id, body)
    lines = [f"{k}: {v}" for k, v in headers] + [f"content-digest: {header(headers, 'Content-Digest')}"]
    head = (
        f"PUT {send_path(txn_id)} HTTP/1.1\nHost: 127.0.0.1\n" + "\n".join(lines) + "\nConnection: close\n\n"
    )
    assert "Content-Digest: " in head and "content-digest: " in head
    status, answer = raw_exchange(fed.hub.listen_url, head, body)
    assert (status, json.loads(answer)["error"]) == (401, "duplicate_header")


# --- size, before the body is read -------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_before_the_body_is_read(fed):
    """The request declares 2 MiB and sends none of it: the hub answers from the headers."""
    txn_id = new_txn_id()
    large = b"x" * (2 * 1024 * 1024)
    headers = signed(fed, fed.two.key, txn_id, large)
    head = f"PUT {send_path(txn_id)} HTTP/1.1\nHost: 127.0.0.1\n"
    head += "".join(f"{k}: {v}\n" for k, v in headers) + "Connection: close\n\n"
    status, answer = raw_exchange(fed.hub.listen_url, head)
    data = json.loads(answer)
    assert (status, data["error"]) == (413, "body_too_large")
    assert data["limit"] == 1_048_576


@pytest.mark.parametrize("framing", ["no Content-Length", "Transfer-Encoding: chunked"])
def test_a_body_without_content_length_is_refused_with_411_before_the_body_is_read(fed, framing):
    """No body byte is sent after the headers: the hub answers from the headers alone."""
    txn_id, body = transaction(fed, fed.two, [counts_event(fed.two, f"atk-{_tag()}", 1, 1)])
    headers = [(k, v) for k, v in signed(fed, fed.two.key, txn_id, body) if k != "Content-Length"]
    if framing != "no Content-Length":
        headers.append(("Transfer-Encoding", "chunked"))
    head = f"PUT {send_path(txn_id)} HTTP/1.1\nHost: 127.0.0.1\n"
    head += "".join(f"{k}: {v}\n" for k, v in headers) + "Connection: close\n\n"
    status, answer = raw_exchange(fed.hub.listen_url, head)
    assert (status, json.loads(answer)["error"]) == (411, "length_required")


# --- delivery faults: duplicates, conflicts, reordering, concurrency ------------------------------


def test_a_duplicate_delivery_of_a_transaction_has_one_effect(fed):
    pid, title = f"dup-{_tag()}", f"Light the canal path {_tag()}"
    events = [text_event(fed.two, pid, 1, title), counts_event(fed.two, pid, 1, 7)]
    txn_id, body = transaction(fed, fed.two, events)
    first = accepted(deliver(fed, fed.two.key, txn_id, body), *(e["id"] for e in events))
    second = accepted(deliver(fed, fed.two.key, txn_id, body), *(e["id"] for e in events))
    assert second == first
    assert count_samples(fed, fed.two.node_id, pid) == (1, 1)
    assert copy_state(fed, fed.two.node_id, pid) == (1, 7)
    [(stored,)] = fed.hub.sql(
        f"SELECT COUNT(*) FROM federation_transaction WHERE key = '{fed.two.node_id} {txn_id}'"
    )
    assert int(stored) == 1
    copies = [p for p in hub_petitions(fed.hub) if p["title"] == title]
    assert [(p["origin_system"], p["total_signatures"]) for p in copies] == [(fed.two.node_id, 7)]


def test_the_same_idempotency_key_with_a_different_body_is_a_409(fed):
    pid = f"idem-{_tag()}"
    first = counts_event(fed.two, pid, 1, 5)
    txn_id, body = transaction(fed, fed.two, [first])
    accepted(deliver(fed, fed.two.key, txn_id, body), first["id"])
    other = build_transaction(fed.two.node_id, fed.hub_id, txn_id, [counts_event(fed.two, pid, 2, 500)])
    response = deliver(fed, fed.two.key, txn_id, other)
    assert refusal(response) == (409, "idempotency_conflict")
    assert copy_state(fed, fed.two.node_id, pid) == (0, 5)


def test_out_of_order_versions_and_report_sequences_keep_the_newest(fed):
    pid, tag = f"order-{_tag()}", _tag()
    newer, older = f"Version three of the bus petition {tag}", f"Version two of the bus petition {tag}"
    for event in (
        text_event(fed.two, pid, 3, newer),
        counts_event(fed.two, pid, 5, 50),
        text_event(fed.two, pid, 2, older),
        counts_event(fed.two, pid, 4, 40),
    ):
        txn_id, body = transaction(fed, fed.two, [event])
        accepted(deliver(fed, fed.two.key, txn_id, body), event["id"])
    assert copy_state(fed, fed.two.node_id, pid) == (3, 50)
    assert count_samples(fed, fed.two.node_id, pid) == (1, 1)  # seq 4 applied nothing
    listed = {p["title"]: p for p in hub_petitions(fed.hub) if tag in p["title"]}
    assert list(listed) == [newer] and listed[newer]["total_signatures"] == 50


def _fire_together(requests: Sequence[tuple[str, bytes, Headers]], fed: Federation) -> list[httpx.Response]:
    """Send all requests at the same moment, one thread each."""
    start = threading.Barrier(len(requests))

    def send(request: tuple[str, bytes, Headers]) -> httpx.Response:
        txn_id, body, headers = request
        with httpx.Client(timeout=60) as client:
            start.wait()
            return client.put(fed.hub.listen_url + send_path(txn_id), content=body, headers=headers)

    with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def test_concurrent_transactions_from_one_peer_get_429_and_after_retries_each_event_has_one_effect(fed):
    """Different transactions at once: one is processed, the others are told to wait (429
    rate_limited with Retry-After), as docs/federation.md §9.1 says; retried, each applies once."""
    prefix = f"conc-{_tag()}-"
    transactions = []
    for n in range(6):
        events = [counts_event(fed.two, f"{prefix}{n}-{i}", 1, i + 1) for i in range(40)]
        transactions.append(transaction(fed, fed.two, events))
    requests = [(txn_id, body, signed(fed, fed.two.key, txn_id, body)) for txn_id, body in transactions]
    responses = _fire_together(requests, fed)

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429} and 200 in statuses and 429 in statuses, statuses
    for response in responses:
        if response.status_code == 429:
            assert refusal(response) == (429, "rate_limited")
            assert response.headers["retry-after"] == str(response.json()["retry_after"])
    for (txn_id, body), response in zip(transactions, responses, strict=True):
        if response.status_code == 429:
            accepted(deliver(fed, fed.two.key, txn_id, body))
    assert count_samples(fed, fed.two.node_id, prefix) == (240, 240)


def test_the_same_transaction_sent_concurrently_gets_409_in_progress_and_has_one_effect(fed):
    """The same txn_id several times at once (fresh signatures): while the first is processed
    the copies get 409 transaction_in_progress; a copy that arrives after the commit gets the
    stored answer. Retried, every copy gets the same answer, and the events applied once."""
    seen = []
    for _ in range(5):  # the copies must overlap the first one's processing: try a few times
        prefix = f"same-{_tag()}-"
        events = [counts_event(fed.two, f"{prefix}{i}", 1, i + 1) for i in range(50)]
        txn_id, body = transaction(fed, fed.two, events)
        responses = _fire_together(
            [(txn_id, body, signed(fed, fed.two.key, txn_id, body)) for _ in range(8)], fed
        )
        statuses = [r.status_code for r in responses]
        seen += statuses
        assert set(statuses) <= {200, 409} and 200 in statuses, statuses
        answers = {json.dumps(r.json(), sort_keys=True) for r in responses if r.status_code == 200}
        for response in responses:
            if response.status_code == 409:
                assert refusal(response) == (409, "transaction_in_progress")
                answers.add(json.dumps(accepted(deliver(fed, fed.two.key, txn_id, body)), sort_keys=True))
        assert len(answers) == 1
        assert count_samples(fed, fed.two.node_id, prefix) == (50, 50)
        if 409 in statuses:
            break
    assert 409 in seen, seen


def test_a_receiver_answering_500_after_committing_then_200_on_the_retry_has_one_effect(fed):
    """A real instance publishes through the proxy; the proxy forwards the first transaction
    carrying the petition (the hub applies it and answers 200) but tells the instance 500.
    The instance retries the same txn_id with the same body; the hub answers from its stored
    response and applies nothing twice."""
    one, title = fed.one, f"Reopen the library on Sundays {_tag()}"
    fed.proxy.answer_next_with(
        500, method="PUT", path_prefix="/federation/v1/send/", body_contains=title.encode()
    )
    create_petition_on(one, title)
    faulted = wait_until(
        lambda: next((x for x in fed.proxy.exchanges if x.faulted and title.encode() in x.body), None),
        timeout=30,
        interval=0.2,
    )
    assert (faulted.upstream_status, faulted.client_status) == (200, 500)
    # The instance now backs off (1–30 s after a 5xx, then its 15 s sweep). Once its delivery
    # has recorded the failure and let go of its lease on the peer row, the operator's "send
    # now", `groundswell federation deliver`, retries at once (the sweep would, later).
    lease = f"SELECT out_txn FROM federation_peer WHERE node_id = '{fed.hub_id}'"
    wait_until(lambda: one.node.sql(lease) == [("",)], timeout=30, interval=0.2)
    one.node.run_ok("federation", "deliver")
    retried = wait_until(
        lambda: [x for x in fed.proxy.exchanges if x.path == faulted.path and not x.faulted],
        timeout=45,
        interval=0.5,
    )
    assert retried[0].body == faulted.body and retried[0].client_status == 200
    assert retried[0].header("Idempotency-Key") == faulted.header("Idempotency-Key")
    assert retried[0].header("Signature") != faulted.header("Signature")  # re-signed, fresh nonce
    # The hub answered the retry from the response it stored with the first one's effects.
    assert json.loads(retried[0].upstream_body) == json.loads(faulted.upstream_body)

    txn_id = faulted.path.rsplit("/", 1)[-1]
    [(stored,)] = fed.hub.sql(
        f"SELECT COUNT(*) FROM federation_transaction WHERE key = '{one.node_id} {txn_id}'"
    )
    assert int(stored) == 1
    assert [p["origin_system"] for p in hub_petitions(fed.hub) if p["title"] == title] == [one.node_id]
    statuses = f"SELECT DISTINCT status FROM federation_outbound WHERE txn_id = '{txn_id}'"
    wait_until(lambda: one.node.sql(statuses) == [("sent",)], timeout=10, interval=0.2)


# --- what crosses the wire -----------------------------------------------------------------------


def create_petition_on(peer: Peer, title: str) -> str:
    with peer.node.api() as api:
        response = api.post(
            "/api/v1/petitions",
            json={
                "title": title,
                "petition_text": "The reading room closes at noon on Sundays; keep it open all day.",
                "target": [{"name": "The Council", "title": "City council"}],
            },
        )
        assert response.status_code == 201, response.text
        return response.json()["identifiers"][0].split(":")[-1]


@dataclass(frozen=True)
class Member:
    given_name: str
    family_name: str
    email: str
    phone: str
    person_id: int = 0


def sign_as(peer: Peer, petition_id: str, member: Member) -> Member:
    """Sign on the instance through its OSDI API with everything a member has; returns the
    member with the person id the instance gave them."""
    with peer.node.api() as api:
        response = api.post(
            f"/api/v1/petitions/{petition_id}/record_signature_helper",
            json={
                "person": {
                    "given_name": member.given_name,
                    "family_name": member.family_name,
                    "email_addresses": [{"address": member.email}],
                    "phone_numbers": [{"number": member.phone}],
                    "postal_addresses": [{"postal_code": "EC1A 1BB", "locality": "London"}],
                }
            },
        )
        assert response.status_code == 201, response.text
        person = response.json()["_links"]["osdi:person"]["href"].rstrip("/").rsplit("/", 1)[-1]
        return Member(member.given_name, member.family_name, member.email, member.phone, int(person))


def number_people_from(node: Node, first: int) -> None:
    """Make the instance's next person ids start at `first`. Small ids equal counts, versions
    and petition ids; distinctive ones make "no person id in any body" a search, not a guess."""
    if node.database_url:
        node.sql(f"SELECT setval(pg_get_serial_sequence('person', 'id'), {first - 1})")
    else:  # SQLite numbers a new row max(id) + 1: a placeholder person who never signs
        email = f"placeholder-{first}@example.invalid"
        node.sql(f"INSERT INTO person (id, email, email_key) VALUES ({first - 1}, '{email}', '{email}')")


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, path)
    else:
        yield path, value


def test_no_member_data_crosses_the_wire_from_the_instances_to_the_hub(fed):
    tag = _tag()
    members: list[Member] = []
    titles = []
    for peer, names in ((fed.one, ("Wilhelmina", "Quackenbush")), (fed.two, ("Bartholomew", "Featherstone"))):
        number_people_from(peer.node, 3_000_000 + secrets.randbelow(6_000_000))
        title = f"Safe crossings by the school {tag} {peer.node_id[-4:]}"
        pid = create_petition_on(peer, title)
        titles.append(title)
        for n in range(2):
            member = Member(
                f"{names[0]}{n}",
                f"{names[1]}{n}",
                f"{names[0].lower()}.{n}.{tag}@example.org",
                f"+44 20 7946 0{secrets.randbelow(900) + 100}",
            )
            members.append(sign_as(peer, pid, member))
    assert all(m.person_id >= 3_000_000 for m in members)

    def counted() -> bool:
        totals = {p["title"]: p["total_signatures"] for p in hub_petitions(fed.hub)}
        return all(totals.get(title) == 2 for title in titles)

    wait_until(counted, timeout=60, interval=1)

    bodies = [x for x in fed.proxy.exchanges if x.body and x.path.startswith("/federation/")]
    senders = {json.loads(x.body).get("origin") for x in bodies}
    assert {fed.one.node_id, fed.two.node_id} <= senders
    assert all(any(title.encode() in x.body for x in bodies) for title in titles)  # we see real payloads
    person_ids = [re.compile(rf"(?<![\w-]){m.person_id}(?![\w-])") for m in members]
    for exchange in bodies:
        text = exchange.body.decode("utf-8").lower()
        for member in members:
            for value in (member.given_name, member.family_name, member.email, member.phone):
                assert value.lower() not in text, (value, exchange.path)
            assert member.phone.replace(" ", "") not in text.replace(" ", "")
        for path, value in _leaves(json.loads(exchange.body)):
            assert all(m.person_id != value for m in members), (path, exchange.path)
            if isinstance(value, str):
                assert not any(p.search(value) for p in person_ids), (path, value, exchange.path)
