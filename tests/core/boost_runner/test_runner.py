"""The boost runner against the database: who qualifies, who is sampled, how stages close and
decide, and the edge cases of issue 5 (moderation mid-boost, unsubscribing between sample and
send, two petitions competing for one member, an empty audience, restarts and clock changes)."""

from __future__ import annotations

import pytest

from core.boost import BoostPolicy
from core.boost.tables import Boost, BoostDay, BoostStage
from core.mailings.suppression import unsubscribe
from core.mailings.tables import Delivery, Mailing
from core.moderation.queue import reject
from core.moderation.tables import AbuseReport
from core.petitions import counter
from core.petitions.tables import Signature
from tests.core.boost_runner.conftest import (
    POLICY,
    boost_of,
    members,
    recipients,
    run,
    send_all,
    sentences,
    signed_petition,
    stages,
)
from tests.core.mailings.conftest import make_deliveries_due

pytestmark = pytest.mark.usefixtures("quiet_caps")


async def test_a_published_petition_at_the_threshold_becomes_a_candidate_and_its_sample_is_queued(clock):
    await members(120)
    petition = await signed_petition(signers=20)

    report = await run(clock)

    boost = await boost_of(petition)
    assert report.qualified == [boost["id"]]
    assert boost["status"] == "running"
    [stage] = await stages(petition)
    assert (stage["number"], stage["size"], stage["allocated"]) == (1, 50, 50)
    assert stage["filled_at"] is not None and stage["window_ends_at"] is None
    mailing = await Mailing.select().where(Mailing.id == stage["mailing"]).first()
    assert mailing["kind"] == "boost" and mailing["status"] == "sending"
    assert mailing["source_code"] == f"boost-{petition}-1"
    assert len(await recipients(stage["mailing"], "queued")) == 50
    assert await sentences(petition) == ["20 signatures, qualifies for a member sample → sample of 50"]


async def test_petitions_below_the_threshold_unpublished_or_reported_do_not_qualify(clock):
    await members(60)
    below = await signed_petition("Nineteen signatures so far", signers=19)
    reported = await signed_petition("Reported by a member", signers=25)
    await AbuseReport.insert(AbuseReport(petition=reported, reason="Misleading"))

    assert (await run(clock)).qualified == []
    assert await Boost.count() == 0

    await counter.add(below, 1)
    await Signature.insert(Signature(petition=below, person=(await members(1, prefix="late"))[0]))
    assert len((await run(clock)).qualified) == 1


async def test_the_sample_is_only_members_the_boost_may_mail(clock):
    eligible = set(await members(30, prefix="ok", region="CA"))
    await members(10, prefix="elsewhere", region="NY")
    await members(5, prefix="noconsent", region="CA", consent_instance_email=False)
    unsubscribed = await members(5, prefix="gone", region="CA")
    from core.people.tables import Person

    await Person.update({Person.subscription: "unsubscribed"}).where(Person.id.is_in(unsubscribed))
    petition = await signed_petition(signers=20, scope_kind="region", scope_value="CA")
    signer = (await members(1, prefix="alreadysigned", region="CA"))[0]
    await Signature.insert(Signature(petition=petition, person=signer))

    await run(clock)

    [stage] = await stages(petition)
    assert await recipients(stage["mailing"]) == eligible
    # The audience ran dry before the stage's 50: the stage is what could be sent.
    assert (stage["size"], stage["allocated"]) == (30, 30)


async def test_an_empty_eligible_audience_finishes_the_boost_at_once(clock):
    petition = await signed_petition(signers=20)

    await run(clock)

    boost = await boost_of(petition)
    assert boost["status"] == "finished"
    assert await sentences(petition) == [
        "20 signatures, qualifies for a member sample → no eligible member to mail"
    ]
    assert await BoostStage.count() == 0
    assert await Mailing.count() == 0


async def test_a_petition_taken_down_mid_boost_halts_and_its_unsent_emails_are_skipped(clock):
    await members(80)
    petition = await signed_petition(signers=20)
    await run(clock)
    [stage] = await stages(petition)

    await reject(petition, "It breaks the rules on personal attacks.")
    await run(clock)

    boost = await boost_of(petition)
    assert boost["status"] == "stopped"
    assert "halted: the petition was taken down by moderation" in (await sentences(petition))[-1]
    mailing = await Mailing.select(Mailing.status).where(Mailing.id == stage["mailing"]).first()
    assert mailing["status"] == "cancelled"
    assert await recipients(stage["mailing"], "queued") == set()
    assert len(await recipients(stage["mailing"], "skipped")) == 50


async def test_a_member_who_unsubscribes_between_sample_and_send_is_not_sent(clock, smtp):
    await members(10)
    petition = await signed_petition(signers=20)
    await run(clock)
    [stage] = await stages(petition)
    leaver = min(await recipients(stage["mailing"]))

    await unsubscribe(leaver, via="page")
    await send_all()

    received = smtp.wait_for(9)
    assert "member0@example.org" not in {m.recipients[0] for m in received}
    delivery = (
        await Delivery.select()
        .where((Delivery.mailing == stage["mailing"]) & (Delivery.person == leaver))
        .first()
    )
    assert delivery["status"] == "skipped"
    assert len(await recipients(stage["mailing"], "sent")) == 9


async def test_two_petitions_competing_for_the_same_members_on_one_day_mail_each_member_once(clock):
    everyone = set(await members(40))
    first = await signed_petition("Save the riverside trees", signers=20)
    second = await signed_petition("Light the park paths", signers=20)

    await run(clock)
    await run(clock)

    [a] = await stages(first)
    [b] = await stages(second)
    mailed_a, mailed_b = await recipients(a["mailing"]), await recipients(b["mailing"])
    assert not mailed_a & mailed_b
    assert mailed_a | mailed_b == everyone
    # Each member got one boost email today, whichever petition won them.
    rows = await Delivery.raw(
        "SELECT d.person, COUNT(*) AS n FROM delivery d JOIN mailing m ON m.id = d.mailing "
        "WHERE m.kind = 'boost' GROUP BY d.person"
    )
    assert max(int(r["n"]) for r in rows) == 1

    # A day later the gap has passed and the second petition can reach the rest.
    clock.advance(86400 + 60)
    await run(clock)
    b_stage = (await stages(second))[0]
    assert b_stage["allocated"] > len(mailed_b) or b_stage["size"] == len(mailed_b)


async def test_a_stage_is_judged_from_the_database_after_a_restart_and_a_clock_change(clock, smtp):
    await members(300)
    petition = await signed_petition(signers=20)
    await run(clock)
    await send_all()
    await run(clock)  # the last email went: the window opens
    [stage] = await stages(petition)
    assert stage["window_ends_at"] is not None and stage["closed_at"] is None
    # Ten of the fifty sign through the stage's link.
    people = sorted(await recipients(stage["mailing"], "sent"))[:10]
    await Signature.insert(
        *[Signature(petition=petition, person=p, source=f"boost-{petition}-1") for p in people]
    )

    # The clock jumps back an hour (or the worker restarts): the window is not over; nothing happens.
    clock.advance(-3600)
    await run(clock)
    assert (await stages(petition))[0]["closed_at"] is None

    # A fresh pass after the window's end (a new process has nothing in memory) closes it once.
    clock.advance(3600 + POLICY.window_seconds + 120)
    first = await run(clock)
    second = await run(clock)
    assert first.decided and not second.decided
    closed, expanded = await stages(petition)
    assert (closed["deliveries"], closed["signatures"], closed["unsubscribes"]) == (50, 10, 0)
    assert expanded["number"] == 2 and expanded["size"] == 200
    assert (await sentences(petition))[-1] == (
        "sampled 50, 10 signed (20.0 %), benchmark 3.0 %, P>0.99 → expanded to 200"
    )


async def test_a_poor_stage_stops_the_boost_and_unsubscribes_over_the_cap_stop_it_whatever_the_rate(
    clock, smtp
):
    await members(300)
    poor = await signed_petition("Paint the bins purple", signers=20)
    wide = BoostPolicy(**{**POLICY.as_dict(), "first_stage_size": 200})
    await run(clock, wide)
    await send_all()
    # A loaded machine can make the sink defer a few; the stage's window opens once all are sent.
    await make_deliveries_due()
    await send_all()
    await run(clock, wide)
    clock.advance(POLICY.window_seconds + 120)
    await run(clock, wide)
    assert (await boost_of(poor))["status"] == "stopped"
    assert (await sentences(poor))[-1] == "sampled 200, 0 signed (0.0 %), benchmark 3.0 %, P=0.02 → stopped"

    divisive = await signed_petition("Ban all dogs from every park", signers=20)
    await run(clock)
    await send_all()
    [stage] = await stages(divisive)
    mailed = sorted(await recipients(stage["mailing"], "sent"))
    await Signature.insert(
        *[Signature(petition=divisive, person=p, source=f"boost-{divisive}-1") for p in mailed[:10]]
    )
    for person in mailed[10:12]:
        await unsubscribe(person, mailing_id=stage["mailing"], via="one-click")
    await run(clock)
    clock.advance(POLICY.window_seconds + 120)
    await run(clock)
    assert (await boost_of(divisive))["status"] == "stopped"
    assert (await sentences(divisive))[-1] == (
        "sampled 50, 10 signed (20.0 %), 2 unsubscribed (4.0 %, cap 1.0 %) → stopped for unsubscribes"
    )


async def test_the_daily_budget_is_shared_by_a_seeded_allocation_that_is_logged(clock):
    await members(100)
    await signed_petition("Save the riverside trees", signers=20)
    await signed_petition("Light the park paths", signers=20)
    tight = BoostPolicy(**{**POLICY.as_dict(), "daily_budget_per_member": 0.5})

    await run(clock, tight)

    day = await BoostDay.select().first()
    assert (day["budget"], day["used"]) == (50, 50)
    rounds = day["rounds"] if isinstance(day["rounds"], list) else __import__("json").loads(day["rounds"])
    [first_round] = rounds
    assert isinstance(first_round["seed"], int)
    assert sum(s["emails"] for s in first_round["shares"]) == 50
    # Nothing is left today: another pass mails nothing more.
    assert (await run(clock, tight)).mailed == {}
    queued = await Delivery.count()
    assert queued == 50


async def test_a_days_allocation_replays_from_its_logged_seed(clock):
    await members(100)
    first = await signed_petition("Save the riverside trees", signers=20)
    second = await signed_petition("Light the park paths", signers=20)
    tight = BoostPolicy(**{**POLICY.as_dict(), "daily_budget_per_member": 0.7})

    await run(clock, tight)

    import json
    import random

    from core.boost import Benchmark, Candidate, allocate

    day = await BoostDay.select().first()
    [logged] = json.loads(day["rounds"]) if isinstance(day["rounds"], str) else day["rounds"]
    bench = Benchmark(**logged["benchmark"])
    boosts = [(await boost_of(first))["id"], (await boost_of(second))["id"]]
    candidates = [Candidate(key=b, signatures=0, deliveries=0, requested=50, available=50) for b in boosts]
    replayed = allocate(candidates, logged["left"], bench, random.Random(logged["seed"]), 100)
    assert [(a.key, a.emails) for a in replayed] == [(s["boost"], s["emails"]) for s in logged["shares"]]
    assert sum(s["emails"] for s in logged["shares"]) == 70
