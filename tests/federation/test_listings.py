"""`group.listed` and `event.listed`: an instance tells its hub about its public groups and
events, versioned by core's public listings; the hub keeps the newest version of each
whatever order they arrive in, hides what is unlisted, refuses what its schema does not
allow, and shows groups and upcoming events (in each event's own time zone) in its directory.
Nothing about hosts, leaders or attendees crosses."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest

from core.groups.service import GroupInput, add_leader, create_group, update_group
from core.plugin_api import current_listings
from federation import listing_publishing, listing_web, listings, outbound
from federation.documents import sign_document
from federation.events import assert_no_member_data, new_event_id
from federation.identity import load_identity
from federation.listing_tables import FederationEventListing, FederationGroupListing
from federation.tables import FederationOutbound
from plugins.events import service as events
from tests.federation.hub_stub import StubHub
from tests.federation.peer_support import FakePeer
from tests.plugins.events.support import attend, event_input, make_event, viewer
from tests.support.outbox import wait_for_outbox

HOUR = 3600


@pytest.fixture
async def hub():
    stub = StubHub()
    await stub.pin()
    outbound.set_transport(stub.transport())
    yield stub
    outbound.set_transport(None)


@pytest.fixture
async def peer() -> FakePeer:
    node = FakePeer.create(role="instance")
    await node.pin(origin="https://riverside.example.org")
    return node


@pytest.fixture
def as_hub(monkeypatch):
    """This node runs as the hub (settings say instance in the test session)."""
    identity = dataclasses.replace(load_identity(), role="hub")
    for module in (listings, listing_publishing, listing_web):
        monkeypatch.setattr(module, "load_identity", lambda now=None: identity)
    return identity


async def _delivered(stub: StubHub) -> list[dict]:
    """Every listing event the instance queued, as the stub hub applied them, oldest version first.
    Delivery is at-least-once (a batch may be sent again when an answer is slow), so what
    counts is each event id, once, as a real hub deduplicates them."""
    for topic in ("plugin.event.federation", "federation.deliver"):
        await wait_for_outbox(topic=topic, timeout=20)
    await outbound.deliver_to_peer(stub.node_id)
    listed = [e for e in stub.applied.values() if e["type"] in ("group.listed", "event.listed")]
    # Batches may cross on the way (the worker and this test both deliver), so the order the
    # hub applied them in is not always the order they were made: versions say which is newer.
    return sorted(listed, key=lambda e: (e["payload"].get("group") or e["payload"]["event"])["version"])


def _group(local_id: str = "7", version: int = 1, **changes) -> dict:
    group = {
        "id": local_id,
        "version": version,
        "name": f"Riverside Council (v{version})",
        "kind": "council",
        "description": "Neighbours for a safer footbridge.",
        "scope": {"region": "CO"},
        "url": f"https://riverside.example.org/g/riverside-council-{local_id}",
    }
    group.update(changes)
    return group


def _event(local_id: str = "12", version: int = 1, starts_in: float = 3 * 24 * HOUR, **changes) -> dict:
    starts_at = int(time.time() + starts_in)
    event = {
        "id": local_id,
        "version": version,
        "title": f"House party for the footbridge (v{version})",
        "starts_at": starts_at,
        "ends_at": starts_at + 2 * HOUR,
        "timezone": "America/Denver",
        "online": False,
        "venue": "12 Elm Street",
        "locality": "Riverside",
        "scope": {"region": "CO"},
        "url": f"https://riverside.example.org/events/{local_id}",
    }
    event.update(changes)
    return event


# --- sending ---------------------------------------------------------------------------------


async def test_a_group_created_renamed_and_hidden_reaches_the_hub_as_ever_newer_versions(client, hub):
    group = await create_group("Riverside Council", region="CO", description="Neighbours.")
    await update_group(group.id, GroupInput("Riverside Footbridge Council", "Neighbours.", "CO"))
    await update_group(
        group.id, GroupInput("Riverside Footbridge Council", "Neighbours.", "CO", listed=False)
    )
    sent = await _delivered(hub)
    assert [(e["payload"]["group"]["version"], e["payload"]["listed"]) for e in sent] == [
        (1, True),
        (2, True),
        (3, False),
    ]
    first = sent[0]["payload"]["group"]
    assert first == {
        "id": str(group.id),
        "version": 1,
        "name": "Riverside Council",
        "kind": "council",
        "description": "Neighbours.",
        "scope": {"region": "CO"},
        "url": "http://testserver.local/g/riverside-council",
    }
    assert sent[1]["payload"]["group"]["name"] == "Riverside Footbridge Council"


async def test_saving_a_group_unchanged_sends_nothing_new(client, hub):
    group = await create_group("Riverside Council")
    await update_group(group.id, GroupInput("Riverside Council"))
    assert len(await _delivered(hub)) == 1


async def test_a_public_event_is_listed_and_cancelling_it_or_making_it_private_unlists_it(client, hub):
    host = await viewer(role="leader")
    party = await make_event(host, venue="The Elm Street house", locality="Riverside", region="CO")
    meeting = await make_event(host, title="Council meeting about the bridge")
    await events.cancel_event(party.id, host, reason="Rain")
    await events.update_event(meeting.id, event_input(title="Council meeting", visibility="unlisted"), host)
    sent = await _delivered(hub)
    by_event = {}
    for e in sent:
        by_event.setdefault(e["payload"]["event"]["id"], []).append(e["payload"])
    party_sent, meeting_sent = by_event[str(party.id)], by_event[str(meeting.id)]
    assert [(p["event"]["version"], p["listed"]) for p in party_sent] == [(1, True), (2, False)]
    assert [(p["event"]["version"], p["listed"]) for p in meeting_sent] == [(1, True), (2, False)]
    listed = party_sent[0]["event"]
    assert listed["venue"] == "The Elm Street house, 12 Elm Street"
    assert (listed["locality"], listed["scope"], listed["timezone"]) == (
        "Riverside",
        {"region": "CO"},
        "America/Denver",
    )
    assert listed["url"] == f"http://testserver.local/events/{party.id}"
    assert listed["starts_at"] == int(party.starts_at.timestamp())


async def test_an_event_waiting_for_approval_is_listed_only_once_approved(client, hub):
    member = await viewer("mo.member@example.org", role="member", name="Mo Member")
    pending = await events.create_event(event_input(title="Letters to the mayor"), member)
    assert pending.status == "pending"
    assert await _delivered(hub) == []
    staff = await viewer("sta.staff@example.org", role="staff", name="Sta Staff")
    await events.moderate_event(pending.id, staff, approve=True)
    sent = await _delivered(hub)
    assert [(e["payload"]["event"]["title"], e["payload"]["listed"]) for e in sent] == [
        ("Letters to the mayor", True)
    ]


async def test_a_description_the_guard_refuses_is_left_out_and_the_event_still_listed(client, hub):
    await make_event(description="Questions? Write to hana.host@example.org or call +1 303 555 0142.")
    (sent,) = await _delivered(hub)
    assert sent["payload"]["listed"] is True
    assert sent["payload"]["event"]["description"] == ""
    assert await FederationOutbound.count().where(FederationOutbound.status == "dead") == 0


async def test_listings_made_before_the_hub_was_paired_are_sent_once_by_the_backfill(client):
    group = await create_group("Riverside Council")
    await make_event()
    await wait_for_outbox(topic="plugin.event.federation", timeout=20)
    stub = StubHub()
    await stub.pin()
    outbound.set_transport(stub.transport())
    try:
        # The periodic run of the same backfill may get there first; either way, once.
        await listing_publishing.send_missing_listings()
        assert await listing_publishing.send_missing_listings() == 0
        sent = await _delivered(stub)
    finally:
        outbound.set_transport(None)
    assert sorted(e["type"] for e in sent) == ["event.listed", "group.listed"]
    assert [item.local_id for item in await current_listings("group")] == [str(group.id)]


# --- receiving ---------------------------------------------------------------------------------


async def _group_row(peer: FakePeer, local_id: str = "7"):
    key = f"{peer.node_id}:{local_id}"
    return await FederationGroupListing.objects().where(FederationGroupListing.key == key).first()


async def test_versions_apply_once_and_an_older_version_arriving_late_changes_nothing(client, peer):
    events_ = [
        peer.event("group.listed", {"group": _group(version=2), "listed": True}),
        peer.event("group.listed", {"group": _group(version=1), "listed": True}),
    ]
    response = await peer.send(client, events_)
    assert set(response.json()["results"].values()) == {"ok"}
    row = await _group_row(peer)
    assert (row.version, row.name, row.listed, row.region) == (2, "Riverside Council (v2)", True, "CO")

    await peer.send(client, [peer.event("group.listed", {"group": _group(version=3), "listed": False})])
    await peer.send(client, [peer.event("group.listed", {"group": _group(version=2), "listed": True})])
    row = await _group_row(peer)
    assert (row.version, row.listed) == (3, False), "unlisted stays unlisted until a newer version"
    await peer.send(client, [peer.event("group.listed", {"group": _group(version=4), "listed": True})])
    assert (await _group_row(peer)).listed is True
    assert await FederationGroupListing.count() == 1


def _unchecked_event(peer: FakePeer, kind: str, payload: dict) -> dict:
    """An envelope signed by the peer but never checked against the schema (as a buggy or
    hostile implementation could send it)."""
    envelope = {
        "id": new_event_id(),
        "type": kind,
        "origin": peer.node_id,
        "created": int(time.time()),
        "payload": payload,
    }
    return sign_document(envelope, [peer.key])


async def test_listings_outside_the_schema_are_refused_one_by_one(client, peer):
    leaking = _group()
    leaking["leader_email"] = "lee@example.org"
    no_version = _event()
    del no_version["version"]
    good = peer.event("event.listed", {"event": _event("13"), "listed": True})
    refused = [
        _unchecked_event(peer, "group.listed", {"group": leaking, "listed": True}),
        _unchecked_event(peer, "event.listed", {"event": no_version, "listed": True}),
        peer.event("event.listed", {"event": _event("14", timezone="Mars/Olympus_Mons"), "listed": True}),
        peer.event("event.listed", {"event": _event("15", ends_at=1_000), "listed": True}),
    ]
    response = await peer.send(client, [*refused, good])
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [results[e["id"]] for e in refused] == ["schema_invalid"] * 4
    assert results[good["id"]] == "ok"
    assert await FederationGroupListing.count() == 0
    assert [r["local_id"] for r in await FederationEventListing.select(FederationEventListing.local_id)] == [
        "13"
    ]


async def test_the_hub_directory_lists_groups_and_upcoming_events_in_their_own_time_zone(
    client, peer, as_hub
):
    soon = _event("20", version=1, title="Footbridge rally", starts_in=2 * 24 * HOUR)
    soon["starts_at"] = 1_893_600_000  # 2030-01-02 16:00 UTC, 09:00 in Denver
    soon["ends_at"] = soon["starts_at"] + HOUR
    over = _event("21", title="Last week's meeting", starts_in=-7 * 24 * HOUR)
    hidden = _event("22", title="A cancelled vigil")
    online = _event("23", title="Phone bank", timezone="America/New_York", online=True)
    online.update(starts_at=1_893_700_000, ends_at=1_893_703_600)
    await peer.send(
        client,
        [
            peer.event("group.listed", {"group": _group("7"), "listed": True}),
            peer.event("group.listed", {"group": _group("8", name="A hidden group"), "listed": False}),
            *[peer.event("event.listed", {"event": e, "listed": True}) for e in (soon, over, hidden, online)],
            peer.event("event.listed", {"event": {**hidden, "version": 2}, "listed": False}),
        ],
    )
    page = await client.get("/federation/directory/groups")
    assert page.status_code == 200
    assert "Riverside Council (v1)" in page.text and "A hidden group" not in page.text
    assert "https://riverside.example.org" in page.text and 'href="/federation/directory/events"' in page.text

    page = await client.get("/federation/directory/events")
    assert "Footbridge rally" in page.text and "Phone bank" in page.text
    assert "Wed 2 Jan 2030, 9:00 AM MST" in page.text
    assert "Last week" not in page.text and "cancelled vigil" not in page.text
    assert page.text.index("Footbridge rally") < page.text.index("Phone bank")

    data = (await client.get("/federation/directory/events?format=json")).json()
    assert [e["title"] for e in data["events"]] == ["Footbridge rally", "Phone bank"]
    assert data["events"][0]["start_date"] == "2030-01-02T09:00:00-07:00"
    assert data["events"][0]["instance"] == "https://riverside.example.org"
    assert data["next"] is None
    groups = (await client.get("/federation/directory/groups?format=json")).json()["groups"]
    assert [(g["name"], g["region"]) for g in groups] == [("Riverside Council (v1)", "CO")]


async def test_the_hubs_own_groups_and_events_are_in_its_directory(client, as_hub):
    await create_group("National Office Volunteers")
    await make_event(title="National day of action")
    await wait_for_outbox(topic="plugin.event.federation", timeout=20)
    rows = await FederationGroupListing.select(
        FederationGroupListing.origin_node, FederationGroupListing.name
    )
    assert rows == [{"origin_node": as_hub.node_id, "name": "National Office Volunteers"}]
    page = await client.get("/federation/directory/events")
    assert "National day of action" in page.text and as_hub.origin in page.text


async def test_bad_directory_parameters_are_clear_400s(client, as_hub):
    for path in (
        "/federation/directory/groups?page=abc",
        "/federation/directory/events?page=0",
        "/federation/directory/events?format=xml",
    ):
        response = await client.get(path)
        assert response.status_code == 400, path
        assert "page" in response.text or "format" in response.text


async def test_an_instance_says_the_directory_is_on_its_hub(client):
    page = await client.get("/federation/directory/events")
    assert page.status_code == 200 and "directory is on its hub" in page.text


# --- privacy ---------------------------------------------------------------------------------


async def test_no_listing_payload_carries_host_leader_or_attendee_data(client, hub):
    host = await viewer("hana.host@example.org", role="leader", name="Hana Host")
    group = await create_group("Riverside Council", description="Meet us every Tuesday.")
    await add_leader(group.id, "lee.leader@example.org")
    await add_leader(group.id, "hana.host@example.org")  # so her event is published at once
    party = await make_event(
        host,
        host_email="hana.private@example.org",
        host_phone="+1 303 555 0199",
        online_url="https://meet.example.org/secret-room",
        group_id=str(group.id),
    )
    await attend(party, "ann.attendee@example.org", postal_code="80202")
    await events.update_event(
        party.id,
        event_input(title="House party, new time", starts_in=timedelta(days=4), group_id=str(group.id)),
        host,
    )
    await events.cancel_event(party.id, host, reason="Call Hana on +1 303 555 0199")
    sent = await _delivered(hub)
    assert {e["type"] for e in sent} == {"group.listed", "event.listed"}
    for event in sent:
        assert_no_member_data(event["payload"])
    text = "\n".join(b.decode() for b in hub.bodies)
    for secret in (
        "hana.host@",
        "hana.private@",
        "Hana Host",
        "555 0199",
        "lee.leader@",
        "ann.attendee@",
        "meet.example.org",
        "secret-room",
        '"host',
        '"attendee',
        '"person',
    ):
        assert secret not in text, secret
    assert f'"id":"{group.id}","name":"Riverside Council"' in text
