"""A federation on loopback: a hub and two instances, each its own `groundswell serve`
process with its own data dir and database, paired with the CLI exactly as the operator
section of docs/federation.md says; petitions and counts flow to the hub; pairing refuses
what it must; a suspended peer waits; and the send endpoint resists tampering over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from federation.httpsig import sign_request
from federation.keys import load_private_key
from federation.transactions import build_transaction, new_txn_id, send_path
from tests.e2e.federation_nodes import (
    ADMIN,
    Node,
    create_petition,
    federation_of,
    hub_petitions,
    join_command,
    node_database,
    pair,
)
from tests.e2e.test_serve import sign_in_with
from tests.support.forms import csrf_token_in
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def federation_nodes(tmp_path_factory) -> Iterator[list[Node]]:
    with federation_of("hub", "instance", "instance", root=tmp_path_factory.mktemp("federation")) as nodes:
        yield nodes


def test_three_nodes_pair_publish_update_close_and_counts_converge(federation_nodes):
    hub, one, two = federation_nodes
    document = httpx.get(hub.url + "/.well-known/groundswell").json()
    assert document["role"] == "hub" and document["keys"][0]["fingerprint"] == hub.keys()["fingerprint"]
    create_petition(two, "Keep the library open on Sundays", signatures=2)  # before joining
    one_id, two_id = pair(hub, one), pair(hub, two)
    assert {p["node_id"]: p["status"] for p in hub.peers()} == {one_id: "active", two_id: "active"}

    pid = create_petition(one, "Open the Riverside pool all summer", signatures=3)
    create_petition(two, "Plant a hundred trees on Elm street", signatures=1)

    def converged():
        listed = {p["title"]: p for p in hub_petitions(hub)}
        pool, trees = (
            listed.get("Open the Riverside pool all summer"),
            listed.get("Plant a hundred trees on Elm street"),
        )
        earlier = listed.get("Keep the library open on Sundays")
        return (
            pool
            and trees
            and earlier
            and earlier["total_signatures"] == 2
            and pool["total_signatures"] == 3
            and trees["total_signatures"] == 1
            and (pool, trees)
        )

    pool, trees = wait_until(converged, timeout=60, interval=1)
    assert pool["origin_system"] == one_id and trees["origin_system"] == two_id

    directory = httpx.get(hub.url + "/federation/directory").text
    assert "Open the Riverside pool all summer" in directory and one.url in directory
    assert directory.index("Open the Riverside pool") < directory.index("Plant a hundred trees")

    with one.api() as api:
        changed = api.put(
            f"/api/v1/petitions/{pid}", json={"title": "Open the Riverside pool all summer long"}
        )
        assert changed.status_code == 200, changed.text
    wait_until(
        lambda: any(p["title"] == "Open the Riverside pool all summer long" for p in hub_petitions(hub)),
        timeout=40,
        interval=1,
    )
    with httpx.Client(base_url=one.url, timeout=10) as browser:  # the leader closes it on the site
        sign_in_with(browser, one.run_ok("admin", "create", ADMIN).last_line)
        dashboard = browser.get(f"/lead/petitions/{pid}")
        closed = browser.post(
            f"/lead/petitions/{pid}/close", data={"_csrf_token": csrf_token_in(dashboard.text)}
        )
        assert closed.status_code in (200, 303), closed.text
    wait_until(
        lambda: any(
            p["title"] == "Open the Riverside pool all summer long" and p["status"] == "closed"
            for p in hub_petitions(hub)
        ),
        timeout=40,
        interval=1,
    )
    assert "waiting 0" in one.run_ok("federation", "peers").stdout


def test_a_reused_an_expired_and_a_mismatched_invite_are_refused(federation_nodes, tmp_path):
    hub, one, two = federation_nodes
    with node_database() as url:
        third = Node(tmp_path / "third", "instance", database_url=url)
        with third.serving():
            invite = hub.run_ok("federation", "invite", "--origin", third.url)
            third.run_ok(*join_command(invite.stdout))
            reused = third.run(*join_command(invite.stdout))
            assert reused.returncode == 1 and "invite_used" in reused.stderr, reused.describe()

            expired = hub.run_ok("federation", "invite", "--origin", third.url)
            hub.sql("UPDATE federation_invite SET expires_at = 1 WHERE used_at = 0")
            refused = third.run(*join_command(expired.stdout))
            assert refused.returncode == 1 and "invite_expired" in refused.stderr, refused.describe()

            # An invite for `third`'s origin, used by a node that claims that origin: the hub
            # fetches the document from the origin and finds another node there.
            for_third = hub.run_ok("federation", "invite", "--origin", third.url)
            impostor = one.run(*join_command(for_third.stdout), env={"GROUNDSWELL_PUBLIC_URL": third.url})
            assert impostor.returncode == 1 and "node_mismatch" in impostor.stderr, impostor.describe()

            wrong_print = hub.run_ok("federation", "invite", "--origin", third.url)
            args = join_command(wrong_print.stdout)
            args[-1] = two.keys()["fingerprint"]
            mismatch = third.run(*args)
            assert mismatch.returncode == 1 and "fingerprint" in mismatch.stderr, mismatch.describe()


def test_a_suspended_instance_is_refused_and_its_events_wait(federation_nodes):
    hub, _, two = federation_nodes
    two_id = two.keys()["node_id"]
    hub.run_ok("federation", "suspend", two_id)
    assert {p["node_id"]: p["status"] for p in hub.peers()}[two_id] == "suspended"
    with two.api() as api:
        assert (
            api.post(
                "/api/v1/petitions",
                json={
                    "title": "Fix the potholes on Mill lane",
                    "petition_text": "Mill lane is dangerous for cyclists after dark.",
                    "target": [{"name": "Highways department"}],
                },
            ).status_code
            == 201
        )
    wait_until(lambda: "peer_suspended" in two.peers()[0]["last_error"], timeout=40, interval=1)
    assert all(p["title"] != "Fix the potholes on Mill lane" for p in hub_petitions(hub))
    assert two.peers()[0]["dead_letters"] == 0  # waiting, not dropped
    hub.run_ok("federation", "unsuspend", two_id)
    wait_until(
        lambda: any(p["title"] == "Fix the potholes on Mill lane" for p in hub_petitions(hub)),
        timeout=40,
        interval=1,
    )


def _signed_put(hub: Node, key, body: bytes, *, url: str | None = None, txn_id: str | None = None):
    txn_id = txn_id or new_txn_id()
    target = url or hub.url + send_path(txn_id)
    return txn_id, sign_request("PUT", target, key, now=int(time.time()), body=body, idempotency_key=txn_id)


def test_the_send_endpoint_refuses_tampering_over_real_http(federation_nodes):
    hub, one, _ = federation_nodes
    key = load_private_key((one.instance.data_dir / "federation" / "node_key.pem").read_bytes())
    one_id, hub_id = one.keys()["node_id"], hub.keys()["node_id"]
    from federation.events import build_event

    event = build_event(
        "petition.counts",
        {
            "petition": {"origin": one_id, "id": "999999"},
            "sequence": 1,
            "as_of": int(time.time()),
            "signatures": 1,
        },
        origin=one_id,
        created=int(time.time()),
        keys=[key],
    )
    with httpx.Client(base_url=hub.url, timeout=10) as http:

        def send(txn_id, body, headers):
            return http.put(send_path(txn_id), content=body, headers=headers)

        txn_id = new_txn_id()
        body = build_transaction(one_id, hub_id, txn_id, [event])
        _, headers = _signed_put(hub, key, body, txn_id=txn_id)
        tampered = body.replace(b'"signatures":1', b'"signatures":9')
        assert len(tampered) == len(body)
        refused = send(txn_id, tampered, headers)
        assert refused.status_code == 401 and refused.json()["error"] == "digest_mismatch", refused.text
        forged_host = send(
            txn_id, body, [*headers, ("Host", "evil.example"), ("X-Forwarded-Host", "evil.example")]
        )
        assert forged_host.status_code == 200, forged_host.text  # Host plays no part in what is verified
        replay = send(txn_id, body, headers)
        assert replay.status_code == 401 and replay.json()["error"] == "replay"

        other = new_txn_id()
        other_body = build_transaction(one_id, hub_id, other, [event])
        _, for_evil = _signed_put(
            hub, key, other_body, url="http://evil.example" + send_path(other), txn_id=other
        )
        wrong_target = send(other, other_body, [*for_evil, ("X-Forwarded-Host", "evil.example")])
        assert wrong_target.status_code == 401 and wrong_target.json()["error"] == "signature_invalid"

        huge = b"x" * (1_048_576 + 1)
        too_big = http.put(send_path(other), content=huge, headers={"Content-Type": "application/json"})
        assert too_big.status_code == 413 and too_big.json()["error"] == "body_too_large"
        chunked = http.put(
            send_path(other), content=iter([other_body]), headers={"Content-Type": "application/json"}
        )
        assert chunked.status_code == 411 and chunked.json()["error"] == "length_required"

        _, good = _signed_put(hub, key, other_body, txn_id=other)
        broken = [(k, 'gs=("@method";created=oops' if k == "Signature-Input" else v) for k, v in good]
        malformed = send(other, other_body, broken)
        assert malformed.status_code == 401 and malformed.json()["error"] == "malformed_header", (
            malformed.text
        )
