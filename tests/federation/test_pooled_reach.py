"""Pooled reach over federation, specified in-process (docs/federation.md §8.6).

On an instance: a hub's boost.request mails a sample of this instance's eligible members
about its local copy of the petition, from this instance, with a source code that attributes
the signatures here; the sample is ranked by HMAC(instance secret, request ‖ member), so it is
stable under retries, and a re-delivered request mails nobody twice; fewer eligible members
than k_min, a copy that never arrived, or an admin who turned hub boosts off are answered
refused; reports are cumulative with a growing sequence and suppress cells below k_min; reach
reports are rounded and floored. On the hub: instances with a recent reach report are the
engine's partners, a share goes out as a hub-signed boost.request to that instance alone, and
its boost.report is recorded by sequence.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.boost.hosted import boost_reach, hosted_source_code, mail_hosted_sample, rank_members
from core.boost.remote import RemoteShare, record_remote_stage_result
from core.boost.tables import Boost, BoostRemoteShare, BoostStage
from core.instance_settings import set_policy
from core.mailings.composing import composer_for, load_mailing
from core.mailings.tables import Delivery, Mailing
from core.petitions.tables import Petition
from core.settings import current_settings
from federation import boost_requests, identity, inbound, outbound, reach
from federation.peers import keystore
from federation.pooled_reach import PROVIDER
from federation.reach_tables import FederationBoostRequest, FederationReach
from federation.tables import FederationOutbound
from tests.core.mailings.conftest import add_members, send_all, smtp, unlimited  # noqa: F401
from tests.federation.peer_support import FakePeer
from tests.support.outbox import wait_for_outbox
from tests.support.petitions import published_petition

pytestmark = pytest.mark.usefixtures("unlimited")


@pytest.fixture(autouse=True)
def offline_peers():
    """Peers are unreachable, so what is queued for them stays in their queue to be read."""

    def offline(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("offline in this test", request=request)

    outbound.set_transport(httpx.MockTransport(offline))
    yield
    outbound.set_transport(None)


@pytest.fixture
async def hub() -> FakePeer:
    node = FakePeer.create(role="hub")
    await node.pin(origin="https://hub.example.org")
    return node


async def deliver(peer: FakePeer, *envelopes: dict) -> dict[str, str]:
    """Events as the receiving pipeline applies them once a transaction is verified."""
    return await inbound.apply_events(list(envelopes), await keystore(), time.time())


async def local_copy(hub: FakePeer) -> Petition:
    await deliver(hub, hub.event("petition.published", hub.petition("p-1")))
    copy = await Petition.objects().where(Petition.origin_node == hub.node_id).first()
    assert copy is not None
    return copy


def boost_request(
    hub: FakePeer, boost_id: str = "b1-s1", target: int = 12, k_min: int = 5, **changes
) -> dict:
    payload = {
        "boost_id": boost_id,
        "petition": {"origin": hub.node_id, "id": "p-1"},
        "target_count": target,
        "deliver_by": int(time.time()) + 600,
        "k_min": k_min,
        **changes,
    }
    return hub.event("boost.request", payload)


async def reports_to(hub: FakePeer) -> list[dict]:
    rows = (
        await FederationOutbound.select(FederationOutbound.envelope)
        .where((FederationOutbound.peer == hub.node_id) & (FederationOutbound.event_type == "boost.report"))
        .order_by(FederationOutbound.id)
    )
    return [json.loads(r["envelope"])["payload"] for r in rows]


async def the_request() -> FederationBoostRequest:
    request = await FederationBoostRequest.objects().first()
    assert request is not None
    return request


# -- instance side ------------------------------------------------------------------------------


async def test_a_request_mails_members_about_the_local_copy_and_reports_what_was_sent(hub, smtp):  # noqa: F811
    await add_members(30, consent_instance_email=True)
    copy = await local_copy(hub)

    assert set((await deliver(hub, boost_request(hub))).values()) == {"ok"}
    status = await boost_requests.process_request((await the_request()).id)

    assert status == "mailed"
    mailing = (
        await Mailing.select()
        .where(Mailing.source_code == hosted_source_code(f"{hub.node_id} b1-s1"))
        .first()
    )
    assert mailing["kind"] == "boost" and mailing["petition"] == copy.id
    assert await Delivery.count().where(Delivery.mailing == mailing["id"]) == 12
    composer = await composer_for(await load_mailing(mailing["id"]))
    assert composer.petition_url == f"{current_settings().public_url}/p/{copy.slug}"
    await send_all()
    smtp.wait_for(12)
    await boost_requests.process_request((await the_request()).id)
    first, second = await reports_to(hub)
    assert (first["sequence"], first["sent"], first["refused"]) == (1, 0, False)
    assert (second["sequence"], second["sent"], second["signed"], second["unsubscribed"]) == (2, 12, 0, 0)
    assert second["boost_id"] == "b1-s1" and second["petition"] == {"origin": hub.node_id, "id": "p-1"}


async def test_a_redelivered_request_mails_nobody_twice(hub):
    await add_members(30, consent_instance_email=True)
    await local_copy(hub)
    first = boost_request(hub)
    await deliver(hub, first)
    await boost_requests.process_request((await the_request()).id)

    await deliver(hub, first)  # the same event again
    await deliver(hub, boost_request(hub))  # the same request in a new event
    await boost_requests.process_request((await the_request()).id)
    await boost_requests.process_open_requests()

    assert await FederationBoostRequest.count() == 1
    assert await Mailing.count() == 1 and await Delivery.count() == 12


async def test_the_sample_is_ranked_by_hmac_and_stable_under_retries(hub):
    members = await add_members(40, consent_instance_email=True)
    copy = await local_copy(hub)
    assert rank_members("hub b1-s1", members) == rank_members("hub b1-s1", list(reversed(members)))
    assert rank_members("hub b1-s1", members) != rank_members("hub b1-s2", members)
    assert rank_members("hub b1-s1", members, "one secret") != rank_members("hub b1-s1", members, "another")

    sample = await mail_hosted_sample(copy.id, "hub b1-s1", target_count=10, k_min=5)
    chosen = {r["person"] for r in await Delivery.select(Delivery.person)}
    assert chosen == set(rank_members("hub b1-s1", members)[:10])
    # A retry finds the same mailing; were it lost, the same members would be drawn again.
    assert (
        await mail_hosted_sample(copy.id, "hub b1-s1", target_count=10, k_min=5)
    ).mailing_id == sample.mailing_id
    await Mailing.delete().where(Mailing.id == sample.mailing_id)
    await mail_hosted_sample(copy.id, "hub b1-s1", target_count=10, k_min=5)
    assert {r["person"] for r in await Delivery.select(Delivery.person)} == chosen


async def test_fewer_eligible_members_than_k_min_is_refused(hub):
    await add_members(4, consent_instance_email=True)
    await local_copy(hub)
    await deliver(hub, boost_request(hub, k_min=5))

    assert await boost_requests.process_request((await the_request()).id) == "refused"

    assert await Mailing.count() == 0
    [refusal] = await reports_to(hub)
    assert refusal["refused"] is True and refusal["sent"] is None
    assert "k_min" in (await the_request()).reason


async def test_an_admin_can_turn_hub_boosts_off_and_every_request_is_refused(hub):
    await add_members(30, consent_instance_email=True)
    await local_copy(hub)
    await set_policy("boost_accept_remote", False)
    await deliver(hub, boost_request(hub))

    assert await boost_requests.process_request((await the_request()).id) == "refused"
    assert await Mailing.count() == 0
    assert (await reports_to(hub))[0]["refused"] is True
    assert await boost_reach() == 0  # and the hub is told there is no one to mail here


async def test_a_request_waits_for_its_copy_and_is_refused_if_it_never_arrives(hub):
    await add_members(30, consent_instance_email=True)
    await deliver(hub, boost_request(hub))
    request = await the_request()
    assert await boost_requests.process_request(request.id) == "waiting"

    await local_copy(hub)
    assert await boost_requests.process_open_requests() == 1
    assert (await the_request()).status == "mailed"

    await deliver(hub, boost_request(hub, boost_id="b1-s2", petition={"origin": hub.node_id, "id": "p-9"}))
    late = await FederationBoostRequest.objects().where(FederationBoostRequest.boost_id == "b1-s2").first()
    assert await boost_requests.process_request(late.id, now=late.deliver_by + 1) == "refused"
    refused = await FederationBoostRequest.objects().get(FederationBoostRequest.id == late.id)
    assert refused.reason == boost_requests.NOT_ARRIVED


async def test_small_cells_are_suppressed_and_zero_is_not():
    assert [boost_requests.suppressed(n, 5) for n in (0, 1, 4, 5, 120)] == [0, None, None, 5, 120]


async def test_only_the_hub_may_ask_for_a_boost():
    stranger = FakePeer.create(role="instance")
    await stranger.pin()
    event = stranger.event(
        "boost.request",
        {
            "boost_id": "b1-s1",
            "petition": {"origin": stranger.node_id, "id": "p-1"},
            "target_count": 10,
            "deliver_by": int(time.time()) + 60,
            "k_min": 5,
        },
    )
    assert set((await deliver(stranger, event)).values()) == {"not_allowed"}
    assert await FederationBoostRequest.count() == 0


async def test_reach_is_reported_rounded_and_floored_and_again_only_when_it_moves(hub):
    assert [reach.rounded_reach(n) for n in (0, 19, 20, 24, 25, 1_234)] == [0, 0, 20, 20, 30, 1_230]
    await add_members(44, consent_instance_email=True)
    assert await reach.report_reach()
    assert not await reach.report_reach()  # nothing moved
    await add_members(10, prefix="more", consent_instance_email=True)
    assert await reach.report_reach()
    rows = (
        await FederationOutbound.select(FederationOutbound.envelope)
        .where(FederationOutbound.event_type == "reach.report")
        .order_by(FederationOutbound.id)
    )
    payloads = [json.loads(r["envelope"])["payload"] for r in rows]
    assert [(p["sequence"], p["eligible"]) for p in payloads] == [(1, 40), (2, 50)]


# -- hub side -----------------------------------------------------------------------------------


@pytest.fixture
def as_hub(monkeypatch):
    hub_settings = dataclasses.replace(current_settings(), role="hub")
    monkeypatch.setattr(identity, "instance_settings", lambda: hub_settings)


async def an_instance() -> FakePeer:
    node = FakePeer.create(role="instance")
    await node.pin(origin=f"https://{node.node_id[3:9]}.example.org")
    return node


def reach_report(node: FakePeer, sequence: int, eligible: int, as_of: int | None = None) -> dict:
    return node.event(
        "reach.report", {"sequence": sequence, "as_of": as_of or int(time.time()), "eligible": eligible}
    )


async def test_the_hub_keeps_each_instances_latest_reach_and_recent_ones_are_partners(as_hub):
    one, two, stale = await an_instance(), await an_instance(), await an_instance()
    await deliver(one, reach_report(one, 2, 300), reach_report(one, 1, 900))
    await deliver(two, reach_report(two, 1, 100))
    await deliver(stale, reach_report(stale, 1, 500, as_of=int(time.time()) - reach.RECENT_SECONDS - 60))

    partners = {p.key: p.eligible for p in await PROVIDER.partners()}

    assert partners == {one.node_id: 300, two.node_id: 100}
    assert (await FederationReach.objects().get(FederationReach.node_id == one.node_id)).sequence == 2


async def test_a_share_goes_to_its_instance_alone_as_a_hub_signed_boost_request(as_hub):
    one, two = await an_instance(), await an_instance()
    petition = await published_petition("Keep the night buses running")
    deliver_by = datetime.now(UTC) + timedelta(minutes=5)

    await PROVIDER.dispatch(RemoteShare("b7-s1", one.node_id, petition.id, 120, deliver_by, 10))

    rows = await FederationOutbound.select().where(FederationOutbound.event_type == "boost.request")
    assert [r["peer"] for r in rows] == [one.node_id]
    envelope = json.loads(rows[0]["envelope"])
    assert envelope["origin"] == identity.load_identity().node_id
    assert envelope["payload"] == {
        "boost_id": "b7-s1",
        "petition": {"origin": identity.load_identity().node_id, "id": str(petition.id)},
        "target_count": 120,
        "deliver_by": int(deliver_by.timestamp()),
        "k_min": 10,
    }
    assert not await FederationOutbound.exists().where(FederationOutbound.peer == two.node_id)


async def test_boost_reports_are_recorded_by_sequence(as_hub):
    one = await an_instance()
    petition = await published_petition("Keep the night buses running")
    boost = (await Boost.insert(Boost(petition=petition.id, source_code="boost-x")).returning(Boost.id))[0][
        "id"
    ]
    stage = (await BoostStage.insert(BoostStage(boost=boost, number=1, size=100)).returning(BoostStage.id))[0]
    await BoostRemoteShare.insert(
        BoostRemoteShare(
            key=f"b{boost}-s1 {one.node_id}",
            stage=stage["id"],
            request_id=f"b{boost}-s1",
            partner=one.node_id,
            target_count=50,
            k_min=5,
            deliver_by=datetime.now(UTC),
        )
    )

    def report(sequence: int, signed: int | None) -> dict:
        return one.event(
            "boost.report",
            {
                "boost_id": f"b{boost}-s1",
                "petition": {"origin": identity.load_identity().node_id, "id": str(petition.id)},
                "sequence": sequence,
                "as_of": int(time.time()),
                "sent": 50,
                "signed": signed,
                "unsubscribed": 0,
                "refused": False,
            },
        )

    await deliver(one, report(2, 7), report(1, None))
    row = await BoostRemoteShare.select().first()
    assert (row["report_sequence"], row["sent"], row["signed"]) == (2, 50, 7)
    assert not await record_remote_stage_result(
        f"b{boost}-s1", one.node_id, sequence=2, sent=1, signed=1, unsubscribed=1, refused=True
    )


# -- pages --------------------------------------------------------------------------------------


async def test_the_instance_admin_page_lists_hub_requests_with_aggregates_only(client, hub):
    from tests.support.accounts import sign_in

    await add_members(30, consent_instance_email=True)
    await local_copy(hub)
    await deliver(hub, boost_request(hub))
    await boost_requests.process_request((await the_request()).id)
    await wait_for_outbox()  # the in-process worker may have been the one to mail it
    await sign_in(client, "admin@example.org", role="admin")

    page = await client.get("/admin/federation/")

    assert page.status_code == 200, page.text
    assert "Hub boost requests" in page.text and "b1-s1" in page.text and "mailed" in page.text
    assert "@example.org" not in page.text.split("Hub boost requests", 1)[1]


async def test_the_hub_staff_page_shows_each_instances_share(client, as_hub):
    from tests.support.accounts import sign_in

    one = await an_instance()
    petition = await published_petition("Keep the night buses running")
    boost = (await Boost.insert(Boost(petition=petition.id, source_code="boost-x")).returning(Boost.id))[0][
        "id"
    ]
    stage = (await BoostStage.insert(BoostStage(boost=boost, number=1, size=100)).returning(BoostStage.id))[0]
    await BoostRemoteShare.insert(
        BoostRemoteShare(
            key=f"b{boost}-s1 {one.node_id}",
            stage=stage["id"],
            request_id=f"b{boost}-s1",
            partner=one.node_id,
            partner_label="https://one.example.org",
            eligible=300,
            target_count=50,
            k_min=10,
            deliver_by=datetime.now(UTC),
        )
    )
    await record_remote_stage_result(
        f"b{boost}-s1", one.node_id, sequence=1, sent=50, signed=None, unsubscribed=0, refused=False
    )
    await sign_in(client, "staff@example.org", role="staff")

    page = await client.get("/staff/boosts/")

    assert page.status_code == 200, page.text
    shares = page.text.split("Shares mailed by federation instances", 1)[1]
    assert "https://one.example.org" in shares and "under 10" in shares and "window open" in shares
