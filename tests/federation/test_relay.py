"""Relaying through the hub (docs/federation.md §8.4 and §8.5), specified in-process.

On a hub: an instance's petition events are queued unchanged (still origin-signed) for every
other approved instance and never back to the origin; the hub accepts no relayed events; a
newly approved instance is introduced to the other nodes (`node.listed`) and handed the
current state of every federated petition; suspension and key rotation are announced.

On an instance: a relayed event is accepted only from its active hub, for an origin the hub
introduced and still lists, and verified against that origin's key; an introduced key never
authenticates a request. Totals are this node's local signatures plus the latest report of
every other node: repeated and late reports change nothing, and this node reports only its
local signatures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json

import httpx
import pytest

from core.petitions.counter import total
from core.petitions.service import reject_petition
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Petition
from core.settings import current_settings
from federation import identity, outbound, publishing
from federation.events import build_key_rotation
from federation.introductions import listing_payload
from federation.keys import b64url_encode, generate_node_key
from federation.peers import get_peer, set_status
from federation.tables import FederationIntroducedNode, FederationOutbound
from tests.federation.peer_support import FakePeer
from tests.support.outbox import wait_for_outbox
from tests.support.petitions import published_petition


@pytest.fixture(autouse=True)
def offline_peers():
    """Peers are unreachable, so what is queued for them stays in their queue to be read."""

    def offline(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("offline in this test", request=request)

    outbound.set_transport(httpx.MockTransport(offline))
    yield
    outbound.set_transport(None)


@pytest.fixture
def as_hub(monkeypatch):
    hub_settings = dataclasses.replace(current_settings(), role="hub")
    monkeypatch.setattr(identity, "instance_settings", lambda: hub_settings)


async def instance(status: str = "active") -> FakePeer:
    node = FakePeer.create(role="instance")
    await node.pin(status=status, origin=f"https://{node.node_id}.example.org")
    return node


async def queued(peer: FakePeer | str) -> list[dict]:
    node_id = peer if isinstance(peer, str) else peer.node_id
    rows = (
        await FederationOutbound.select(FederationOutbound.envelope)
        .where(FederationOutbound.peer == node_id)
        .order_by(FederationOutbound.id)
    )
    return [json.loads(r["envelope"]) for r in rows]


def closed(peer: FakePeer, version: int) -> dict:
    return {
        "petition": {"origin": peer.node_id, "id": "p-1"},
        "version": version,
        "closed_at": 1_760_000_100,
        "status": "closed",
    }


async def copy_of(origin: FakePeer, local_id: str = "p-1") -> Petition | None:
    return (
        await Petition.objects()
        .where((Petition.origin_node == origin.node_id) & (Petition.origin_id == local_id))
        .first()
    )


# --- the hub ---------------------------------------------------------------------------------


async def test_the_hub_relays_an_instances_petition_unchanged_to_every_other_approved_instance(
    client, as_hub
):
    one, two, waiting, suspended = (
        await instance(),
        await instance(),
        await instance("pending"),
        await instance("suspended"),
    )
    events = [
        one.event("petition.published", one.petition()),
        one.event("petition.counts", one.counts("p-1", 1, 12)),
        one.event("petition.closed", closed(one, 2)),
    ]
    response = await one.send(client, events)
    assert set(response.json()["results"].values()) == {"ok"}, response.text
    assert await queued(two) == events  # byte for byte what the origin signed
    assert await queued(suspended) == events  # waiting until it is unsuspended
    assert await queued(one) == [] and await queued(waiting) == []
    assert "suspended here" in await outbound.deliver_to_peer(suspended.node_id)


async def test_the_hub_refuses_relayed_events_and_key_changes_for_another_node(client, as_hub):
    one, two = await instance(), await instance()
    forwarded = one.event("petition.published", one.petition())
    old, new = one.key, generate_node_key()
    rotation = build_key_rotation(
        old,
        new,
        origin=one.node_id,
        created=forwarded["created"],
        old_key_expires=forwarded["created"] + 3600,
    )
    response = await two.send(client, [forwarded, rotation])
    assert response.json()["results"] == {forwarded["id"]: "relay_refused", rotation["id"]: "relay_refused"}
    assert await copy_of(one) is None and await queued(one) == []


async def test_the_hubs_own_petitions_and_counts_go_to_every_approved_instance(client, as_hub, monkeypatch):
    monkeypatch.setattr(publishing, "COUNTS_DEBOUNCE_SECONDS", 0)
    one, waiting = await instance(), await instance("pending")
    petition = await published_petition()
    await sign(petition.id, SignatureInput(name="Ann Signer", email="ann@example.org"))
    for topic in ("plugin.event.federation", "federation.counts"):
        await wait_for_outbox(topic=topic, timeout=20)
    sent = await queued(one)
    # The text and the count reports are independent (each has its own version or
    # sequence), so a periodic report may be queued before the text: order does not matter.
    assert [e["type"] for e in sent].count("petition.published") == 1
    reports = [e["payload"] for e in sent if e["type"] == "petition.counts"]
    assert {e["type"] for e in sent} == {"petition.published", "petition.counts"}
    latest = max(reports, key=lambda report: report["sequence"])
    assert latest["petition"] == {"origin": identity.load_identity().node_id, "id": str(petition.id)}
    assert latest["signatures"] == 1
    assert await queued(waiting) == []


async def test_an_approved_instance_is_introduced_and_given_the_current_state(client, as_hub):
    one, newcomer = await instance(), await instance("pending")
    text_v1 = one.event("petition.published", one.petition(version=1))
    text_v2 = one.event("petition.updated", one.petition(version=2))
    status = one.event("petition.closed", closed(one, 2))
    report_1 = one.event("petition.counts", one.counts("p-1", 1, 5))
    report_2 = one.event("petition.counts", one.counts("p-1", 2, 7))
    for batch in ([text_v1, report_1], [text_v2, status, report_2]):
        assert (await one.send(client, batch)).status_code == 200
    assert await queued(newcomer) == []

    await set_status(newcomer.node_id, "active")  # what `federation approve` does on the hub

    given = await queued(newcomer)
    assert given[0]["type"] == "node.listed"
    assert given[0]["origin"] == identity.load_identity().node_id
    listing = given[0]["payload"]
    assert (listing["node_id"], listing["listed"]) == (one.node_id, True)
    assert [k["key_id"] for k in listing["keys"]] == [one.key.key_id]
    assert given[1:] == [text_v2, status, report_2]  # the latest of each, as the origin signed it
    told = await queued(one)
    assert told[-1]["type"] == "node.listed" and told[-1]["payload"]["node_id"] == newcomer.node_id

    await set_status(one.node_id, "suspended")
    unlisted = (await queued(newcomer))[-1]["payload"]
    assert (unlisted["node_id"], unlisted["listed"]) == (one.node_id, False)
    assert unlisted["version"] > listing["version"]


async def test_a_petition_the_hubs_staff_took_down_is_relayed_no_further_and_left_out_of_the_directory(
    client, as_hub
):
    one, two, newcomer = await instance(), await instance(), await instance("pending")
    published = one.event("petition.published", one.petition())
    assert (await one.send(client, [published])).status_code == 200
    assert await queued(two) == [published]
    copy = await copy_of(one)
    await reject_petition(copy.id, "Harassment of a named private person.")

    later = [
        one.event("petition.updated", one.petition(version=2)),
        one.event("petition.counts", one.counts("p-1", 1, 40)),
        one.event("petition.closed", closed(one, 3)),
    ]
    response = await one.send(client, later)
    assert set(response.json()["results"].values()) == {"ok"}, response.text  # applied, not relayed
    assert await queued(two) == [published]
    assert (await copy_of(one)).status == "rejected" and (await copy_of(one)).version == 2
    await set_status(newcomer.node_id, "active")
    assert [e["type"] for e in await queued(newcomer)] == ["node.listed", "node.listed"]  # one, two
    directory = await client.get("/federation/directory")
    assert directory.status_code == 200 and "Save the river library" not in directory.text


async def test_the_origins_withdrawal_is_relayed_and_hides_the_petition_on_the_hub(client, as_hub):
    one, two = await instance(), await instance()
    withdrawn = {**closed(one, 2), "status": "withdrawn"}
    events = [one.event("petition.published", one.petition()), one.event("petition.closed", withdrawn)]
    assert set((await one.send(client, events)).json()["results"].values()) == {"ok"}
    assert await queued(two) == events
    assert (await copy_of(one)).status == "rejected"
    assert "Save the river library" not in (await client.get("/federation/directory")).text
    assert (await client.get(f"/p/{(await copy_of(one)).slug}")).status_code == 404


async def test_instances_approved_at_the_same_moment_are_each_introduced_to_the_other(client, as_hub):
    await instance()
    newcomers = [await instance("pending") for _ in range(3)]

    await asyncio.gather(*(set_status(n.node_id, "active") for n in newcomers))  # no deadlock

    for newcomer in newcomers:
        listed = {e["payload"]["node_id"] for e in await queued(newcomer) if e["type"] == "node.listed"}
        assert listed >= {n.node_id for n in newcomers if n is not newcomer}
    every = [e for n in newcomers for e in await queued(n) if e["type"] == "node.listed"]
    # Each announcement about a node has a version of its own (so an id is never reused).
    announced = {(e["payload"]["node_id"], e["payload"]["version"]): e["id"] for e in every}
    assert len(set(announced.values())) == len(announced)


async def test_a_rotation_applied_by_the_hub_is_announced_with_the_old_keys_expiry(client, as_hub):
    one, two = await instance(), await instance()
    new = generate_node_key()
    created = one.event("petition.published", one.petition())["created"]
    rotation = build_key_rotation(
        one.key, new, origin=one.node_id, created=created, old_key_expires=created + 3600
    )
    assert (await one.send(client, [rotation])).json()["results"] == {rotation["id"]: "ok"}
    listing = (await queued(two))[-1]["payload"]
    assert listing["node_id"] == one.node_id
    assert [k["key_id"] for k in listing["keys"]] == [new.key_id]
    assert listing["old_keys"] == [
        {
            "key_id": one.key.key_id,
            "public_key": listing["old_keys"][0]["public_key"],
            "expires": created + 3600,
        }
    ]


# --- an instance -----------------------------------------------------------------------------


@pytest.fixture
async def hub() -> FakePeer:
    node = FakePeer.create(role="hub")
    await node.pin()
    return node


def introduction(hub: FakePeer, node: FakePeer, version: int = 1, listed: bool = True) -> dict:
    payload = {
        "node_id": node.node_id,
        "origin": f"https://{node.node_id}.example.org",
        "role": "instance",
        "keys": [
            {"key_id": e.key_id, "public_key": b64url_encode(e.public_key)}
            for e in node.ring.with_status("current")
        ],
        "old_keys": [],
        "revoked_keys": [],
        "version": version,
        "listed": listed,
    }
    return hub.event("node.listed", payload)


async def test_a_relayed_petition_is_accepted_only_for_an_origin_the_hub_introduced(client, hub):
    origin = FakePeer.create(role="instance")
    before = origin.event("petition.published", origin.petition("p-0"))
    refused = await hub.send(client, [before])
    assert refused.json()["results"] == {before["id"]: "relay_refused"}

    published = origin.event("petition.published", origin.petition())
    response = await hub.send(client, [introduction(hub, origin), published])
    assert set(response.json()["results"].values()) == {"ok"}, response.text
    copy = await copy_of(origin)
    assert copy is not None and copy.origin_url == origin.petition()["petition"]["url"]
    introduced = await FederationIntroducedNode.objects().first()
    assert introduced.node_id == origin.node_id and await get_peer(origin.node_id) is None


async def test_an_introduced_key_never_authenticates_a_request(client, hub):
    origin = FakePeer.create(role="instance")
    await hub.send(client, [introduction(hub, origin)])
    direct = await origin.send(client, [origin.event("petition.published", origin.petition())])
    assert direct.status_code == 401 and direct.json()["error"] == "unknown_key"
    assert await copy_of(origin) is None


async def test_only_the_active_hub_relays_and_an_unlisted_origin_is_refused(client, hub):
    origin, other = FakePeer.create(role="instance"), FakePeer.create(role="instance")
    await other.pin()  # a paired node that is not a hub
    await hub.send(client, [introduction(hub, origin, version=1)])
    relayed = origin.event("petition.published", origin.petition())
    by_other = await other.send(client, [relayed])
    assert by_other.json()["results"] == {relayed["id"]: "relay_refused"}
    not_from_hub = introduction(other, FakePeer.create())
    assert (await other.send(client, [not_from_hub])).json()["results"] == {
        not_from_hub["id"]: "role_mismatch"
    }

    unlist = introduction(hub, origin, version=3, listed=False)
    stale = introduction(hub, origin, version=2, listed=True)  # arrives late: changes nothing
    await hub.send(client, [unlist, stale])
    after = await hub.send(client, [relayed])
    assert after.json()["results"] == {relayed["id"]: "relay_refused"}
    assert await copy_of(origin) is None


async def test_a_hub_cannot_introduce_itself_or_this_node(client, hub):
    as_itself = hub.event("node.listed", listing_payload(await get_peer(hub.node_id), 1, True))
    response = await hub.send(client, [as_itself])
    assert response.json()["results"] == {as_itself["id"]: "node_mismatch"}


async def settled() -> None:
    for topic in ("plugin.event.federation", "federation.counts"):
        await wait_for_outbox(topic=topic, timeout=20)


async def test_totals_converge_and_never_double_count_repeated_or_late_reports(client, hub, monkeypatch):
    """An instance holding a copy: its total is its local signatures plus each other node's
    latest report, whatever order and however often the reports arrive; what it reports is
    only its local signatures."""
    monkeypatch.setattr(publishing, "COUNTS_DEBOUNCE_SECONDS", 0)
    origin, neighbour = FakePeer.create(role="instance"), FakePeer.create(role="instance")
    await hub.send(
        client,
        [
            introduction(hub, origin),
            introduction(hub, neighbour),
            origin.event("petition.published", origin.petition()),
        ],
    )
    copy = await copy_of(origin)
    for n in range(2):
        await sign(copy.id, SignatureInput(name=f"Local {n}", email=f"local{n}@example.org"))

    def report(node: FakePeer, sequence: int, signatures: int) -> dict:
        payload = node.counts("p-1", sequence, signatures)
        payload["petition"]["origin"] = origin.node_id
        return node.event("petition.counts", payload)

    origin_3 = report(origin, 3, 30)
    deliveries = [
        [report(origin, 1, 10), origin_3],
        [report(origin, 2, 20)],  # late
        [origin_3],  # the same event again
        [report(origin, 3, 30)],  # the same report in a new event
        [report(hub, 1, 4), report(neighbour, 1, 5)],
        [report(neighbour, 1, 5), report(hub, 1, 4)],  # repeated, in another order
    ]
    for batch in deliveries:
        response = await hub.send(client, batch)
        assert set(response.json()["results"].values()) == {"ok"}, response.text
    assert await total(copy.id) == 2 + 30 + 4 + 5
    refreshed = await Petition.objects().where(Petition.id == copy.id).first()
    assert refreshed.signature_count == 41

    page = await client.get(f"/p/{copy.slug}")
    assert "<strong>41</strong>" in page.text

    await settled()
    await publishing.report_counts(copy.id)  # unless the signatures' own report went already
    mine = [e for e in await queued(hub) if e["type"] == "petition.counts"][-1]["payload"]
    assert mine["petition"] == {"origin": origin.node_id, "id": "p-1"}
    assert mine["signatures"] == 2  # local only: others' reports are never sent back


async def test_the_origin_adds_every_other_nodes_report_to_its_own_signatures(client, hub, monkeypatch):
    monkeypatch.setattr(publishing, "COUNTS_DEBOUNCE_SECONDS", 0)
    petition = await published_petition()
    await sign(petition.id, SignatureInput(name="Ann Signer", email="ann@example.org"))
    neighbour = FakePeer.create(role="instance")
    me = identity.load_identity().node_id

    def report(node: FakePeer, sequence: int, signatures: int) -> dict:
        return node.event(
            "petition.counts",
            {
                "petition": {"origin": me, "id": str(petition.id)},
                "sequence": sequence,
                "as_of": 1,
                "signatures": signatures,
            },
        )

    await hub.send(client, [introduction(hub, neighbour), report(hub, 2, 6), report(neighbour, 1, 3)])
    await hub.send(client, [report(hub, 1, 2), report(neighbour, 1, 3)])
    assert await total(petition.id) == 1 + 6 + 3
    await settled()
    await publishing.report_counts(petition.id)  # unless the signature's own report went already
    mine = [e for e in await queued(hub) if e["type"] == "petition.counts"][-1]["payload"]
    assert mine["signatures"] == 1


async def test_a_copys_page_names_its_origin_and_takes_signatures_here(client, hub):
    origin = FakePeer.create(role="instance")
    await hub.send(client, [introduction(hub, origin), origin.event("petition.published", origin.petition())])
    copy = await copy_of(origin)
    page = await client.get(f"/p/{copy.slug}")
    assert page.status_code == 200
    assert f'href="{copy.origin_url}"' in page.text and "Started on" in page.text
    assert f'rel="canonical" href="{copy.origin_url}"' in page.text
    assert 'action="/p/' in page.text and "share_with_creator" not in page.text
    own = await client.get(f"/p/{(await published_petition('Our own petition here')).slug}")
    assert "Started on" not in own.text and "share_with_creator" in own.text
