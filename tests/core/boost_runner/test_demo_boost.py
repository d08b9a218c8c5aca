"""`groundswell demo` leaves a running boost behind, so a newcomer sees the engine decide."""

from __future__ import annotations

import pytest

from core.boost.tables import Boost, BoostDecisionLog
from core.demo import load_demo
from core.petitions.tables import Petition
from tests.support.accounts import sign_in


@pytest.fixture
async def app():
    """The app without its in-process worker: the periodic boost job, running on its own
    schedule, could qualify the demo's petitions with the instance's policy (samples of 500)
    before the demo runs the engine with its own (samples of 100)."""
    from core.web.app import create_app

    return create_app(run_worker=False)


async def test_the_demo_has_boosts_with_decisions_and_one_expanding(client):
    await load_demo()

    crossing = await Petition.select(Petition.id).where(Petition.title.like("A safe crossing%")).first()
    boost = await Boost.select().where(Boost.petition == crossing["id"]).first()
    assert boost["status"] == "running"
    log = [
        row["sentence"]
        for row in await BoostDecisionLog.select(BoostDecisionLog.sentence)
        .where(BoostDecisionLog.boost == boost["id"])
        .order_by(BoostDecisionLog.id)
    ]
    assert log[0] == "29 signatures, qualifies for a member sample → sample of 100"
    assert log[1].startswith("sampled 100, 11 signed (11.0 %), benchmark ")
    assert "→ expanded to 400" in log[1]

    await sign_in(client, "staff@example.org", role="staff")
    page = (await client.get("/staff/boosts")).text
    assert "A safe crossing outside Elm Street primary school" in page
    assert "expanded to 400" in page
