"""Pooled reach in the boost runner, with a reach provider standing in for federation: stages
are split with partners in proportion to eligible members, a stage is judged once the
partners' deliver_by has passed, the decision pools their reports (suppressed cells read
conservatively, refusing or silent partners left out and named), reports are sequence-checked,
and a node without partners runs exactly as before."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest

from core.boost.remote import (
    ReachPartner,
    RemoteShare,
    pooled_partners,
    record_remote_stage_result,
    register_reach_provider,
    unregister_reach_provider,
)
from core.boost.runner import run_boosts
from core.boost.tables import Boost, BoostRemoteShare
from core.petitions import counter
from core.petitions.tables import Petition
from tests.core.boost_runner.conftest import POLICY, boost_of, members, sentences, signed_petition, stages

pytestmark = pytest.mark.usefixtures("quiet_caps")

POOLED = dataclasses.replace(POLICY, remote_k_min=5)


class FakeFederation:
    """Partners with fixed eligible counts; dispatched shares are kept for the test to read."""

    def __init__(self, partners: Sequence[ReachPartner]) -> None:
        self.listed = list(partners)
        self.dispatched: list[RemoteShare] = []

    async def partners(self) -> Sequence[ReachPartner]:
        return self.listed

    async def dispatch(self, share: RemoteShare) -> None:
        self.dispatched.append(share)


@pytest.fixture
def federation(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFederation]:
    fake = FakeFederation(
        [
            ReachPartner("gs-a", "https://a.example.org", 100),
            ReachPartner("gs-b", "https://b.example.org", 200),
        ]
    )
    monkeypatch.setattr("core.boost.remote.active_plugin", lambda name: object())
    register_reach_provider("fake-federation", fake)
    yield fake
    unregister_reach_provider("fake-federation")


async def run(clock, policy=POOLED):
    # The demo's mode: this node's emails are recorded as sent at once.
    return await run_boosts(now=clock.now, policy=policy, simulated=True)


async def test_a_stage_is_split_with_partners_in_proportion_to_eligible_members(clock, federation):
    await members(100)
    petition = await signed_petition(signers=20)

    await run(clock)

    [stage] = await stages(petition)
    shares = {s.partner: s.target_count for s in federation.dispatched}
    # 50 emails over 100 + 100 + 200 eligible members.
    assert shares == {"gs-a": 12, "gs-b": 25}
    assert (stage["size"], stage["allocated"], stage["remote_allocated"]) == (13, 13, 37)
    [request] = {s.request_id for s in federation.dispatched}
    assert all(s.k_min == 5 and s.petition_id == petition for s in federation.dispatched)
    window = timedelta(seconds=POOLED.window_seconds)
    assert all(s.deliver_by == clock.now + window for s in federation.dispatched)
    assert request == f"b{(await boost_of(petition))['id']}-s1"


async def test_the_decision_pools_partner_reports_and_names_partners_left_out(clock, federation):
    await members(100)
    petition = await signed_petition(signers=20)
    await run(clock)
    request = federation.dispatched[0].request_id
    # Partner a mailed its 12: 3 signed, unsubscribes suppressed (1 to 4); b refused.
    await record_remote_stage_result(
        request, "gs-a", sequence=1, sent=12, signed=3, unsubscribed=None, refused=False
    )
    await record_remote_stage_result(
        request, "gs-b", sequence=1, sent=None, signed=None, unsubscribed=None, refused=True
    )

    clock.advance(POOLED.window_seconds + 1)
    await run(clock)

    [first, *_] = await stages(petition)
    assert first["closed_at"] is not None
    # 13 sent here and 12 there; a suppressed unsubscribe cell counts as k_min - 1 = 4.
    assert (first["deliveries"], first["remote_allocated"], first["unsubscribes"]) == (25, 12, 4)
    last = (await sentences(petition))[1]
    assert "pooled: 13 here, 12 from 1 partner" in last
    assert "left out: https://b.example.org (refused)" in last
    assert "stopped for unsubscribes" in last  # 4 of 25 is over the 1 % cap
    shares = {r["partner"]: r["outcome"] for r in await BoostRemoteShare.select()}
    assert shares == {"gs-a": "counted", "gs-b": "excluded"}


async def test_a_stage_waits_for_the_partners_deliver_by_and_a_silent_partner_is_left_out(clock, federation):
    await members(100)
    petition = await signed_petition(signers=20)
    await run(clock)
    request = federation.dispatched[0].request_id
    await record_remote_stage_result(
        request, "gs-a", sequence=1, sent=12, signed=0, unsubscribed=0, refused=False
    )

    clock.advance(POOLED.window_seconds - 5)
    await run(clock)
    assert (await stages(petition))[0]["closed_at"] is None

    clock.advance(10)
    await run(clock)
    [first, second] = await stages(petition)
    assert first["deliveries"] == 25 and first["signatures"] == 0
    assert "left out: https://b.example.org (did not report in time)" in (await sentences(petition))[1]
    # b did not refuse, so it is asked again for the next stage; a is too.
    assert {s.partner for s in federation.dispatched if s.request_id.endswith("-s2")} == {"gs-a", "gs-b"}
    assert second["number"] == 2


async def test_a_suppressed_signed_cell_counts_as_one_signature(clock, federation):
    await members(100)
    petition = await signed_petition(signers=20)
    await run(clock)
    request = federation.dispatched[0].request_id
    for partner, sent in (("gs-a", 12), ("gs-b", 25)):
        await record_remote_stage_result(
            request, partner, sequence=1, sent=sent, signed=None, unsubscribed=0, refused=False
        )
    clock.advance(POOLED.window_seconds + 1)
    await run(clock)
    first = (await stages(petition))[0]
    assert (first["deliveries"], first["signatures"]) == (50, 2)


async def test_reports_only_move_forward_by_sequence(federation, clock):
    await members(100)
    await signed_petition(signers=20)
    await run(clock)
    request = federation.dispatched[0].request_id

    assert await record_remote_stage_result(
        request, "gs-a", sequence=2, sent=12, signed=4, unsubscribed=0, refused=False
    )
    assert not await record_remote_stage_result(
        request, "gs-a", sequence=1, sent=12, signed=1, unsubscribed=0, refused=False
    )
    assert not await record_remote_stage_result(
        request, "gs-a", sequence=2, sent=12, signed=9, unsubscribed=0, refused=False
    )
    assert not await record_remote_stage_result(
        "b999-s1", "gs-a", sequence=5, sent=12, signed=9, unsubscribed=0, refused=False
    )
    row = await BoostRemoteShare.select().where(BoostRemoteShare.partner == "gs-a").first()
    assert (row["report_sequence"], row["signed"]) == (2, 4)


async def test_a_partner_that_refused_gets_no_further_share_of_that_boost(clock, federation):
    await members(100)
    petition = await signed_petition(signers=20)
    await run(clock)
    request = federation.dispatched[0].request_id
    await record_remote_stage_result(
        request, "gs-b", sequence=1, sent=None, signed=None, unsubscribed=None, refused=True
    )

    boost = await boost_of(petition)
    assert [p.key for p in await pooled_partners(boost["id"])] == ["gs-a"]
    assert [p.key for p in await pooled_partners(None)] == ["gs-a", "gs-b"]


async def test_federated_copies_qualify_only_where_partners_pool_the_boost(clock, federation):
    await members(100)
    copy = await signed_petition("A petition from another node", signers=1)
    await Petition.update({Petition.origin_node: "gs-origin", Petition.origin_id: "7"}).where(
        Petition.id == copy
    )
    await counter.add(copy, 39)  # with the one signed here: the federation-wide total the copy holds

    federation.listed = []
    await run(clock)
    assert await Boost.count() == 0

    federation.listed = [ReachPartner("gs-a", "https://a.example.org", 100)]
    await run(clock)
    assert (await boost_of(copy))["status"] in ("candidate", "running")
    assert "40 signatures, qualifies" in (await sentences(copy))[0]


async def test_without_partners_nothing_is_shared(clock, federation):
    federation.listed = []
    await members(100)
    petition = await signed_petition(signers=20)

    await run(clock)

    [stage] = await stages(petition)
    assert (stage["size"], stage["allocated"], stage["remote_allocated"]) == (50, 50, 0)
    assert stage["split_at"] is None
    assert federation.dispatched == [] and await BoostRemoteShare.count() == 0
