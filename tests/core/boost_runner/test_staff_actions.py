"""Staff overrule the engine from /staff/boosts: turbocharge, hold, resume, stop, exclude —
each logged with the numbers of that moment and who took it; a clear refusal on a boost that
has ended; and the leader sees the decisions on the petition's dashboard."""

from __future__ import annotations

import pytest

from core.boost.service import staff_act
from core.boost.tables import BoostDecisionLog
from core.errors import Conflict, UserError
from core.instance_settings import get_policy
from tests.core.boost_runner.conftest import boost_of, members, run, sentences, signed_petition, stages
from tests.support.accounts import sign_in
from tests.support.forms import submit

pytestmark = pytest.mark.usefixtures("instance_boost_policy")


async def act(client, boost_id: int, action: str):
    return await submit(client, "/staff/boosts", f"/staff/boosts/{boost_id}", {"action": action})


async def test_staff_hold_resume_turbocharge_and_stop_a_boost_from_the_page(client, clock):
    await members(300)
    petition = await signed_petition(signers=20)
    await run(clock)
    boost = await boost_of(petition)
    await sign_in(client, "ops@example.org", role="staff")

    held = await act(client, boost["id"], "hold")
    assert held.status_code == 200 and "On hold: no new emails go out" in held.text
    assert (await boost_of(petition))["status"] == "held"
    assert (await sentences(petition))[-1] == "staff held: not sampled yet, benchmark 3.0 %, P=0.45 → on hold"

    await act(client, boost["id"], "resume")
    assert (await boost_of(petition))["status"] == "running"
    assert (await sentences(petition))[-1].endswith("→ stage 1 continues")

    turbo = await act(client, boost["id"], "turbocharge")
    assert "Turbocharged" in turbo.text
    # Stage 1 was dealt out already: it is counted now and a stage of 4 × 50 follows, served first.
    one, two = await stages(petition)
    assert one["closed_at"] is not None and (two["number"], two["size"]) == (2, 200)
    assert (await boost_of(petition))["turbocharged"] is True
    last = await BoostDecisionLog.select().order_by(BoostDecisionLog.id, ascending=False).first()
    assert last["by_staff"] == "ops@example.org" and last["action"] == "expand"
    # (The in-process worker may or may not have sent some of stage 1 by now.)
    assert last["sentence"].startswith("staff turbocharged: sampled ")
    assert last["sentence"].endswith("→ expanded to 200")

    stopped = await act(client, boost["id"], "stop")
    assert "Stopped" in stopped.text
    assert (await boost_of(petition))["status"] == "stopped"
    page = (await client.get("/staff/boosts")).text
    assert "staff stopped:" in page and "ops@example.org" in page


async def test_a_staff_action_on_a_finished_boost_is_refused_with_a_clear_message(client, clock):
    petition = await signed_petition(signers=20)  # nobody to mail: the boost finishes at once
    await run(clock)
    boost = await boost_of(petition)
    assert boost["status"] == "finished"

    with pytest.raises(Conflict, match="This boost has finished"):
        await staff_act(boost["id"], "turbocharge", by="ops@example.org")
    await sign_in(client, "ops@example.org", role="staff")
    response = await act(client, boost["id"], "stop")
    assert response.status_code == 409
    assert "This boost has finished" in response.text
    assert "Nothing more will be sent for this petition." in response.text
    assert await BoostDecisionLog.count() == 1  # nothing was logged


async def test_resuming_a_boost_that_is_not_held_and_unknown_actions_are_refused(client, clock):
    await members(60)
    petition = await signed_petition(signers=20)
    await run(clock)
    boost = await boost_of(petition)
    with pytest.raises(Conflict, match="Only a boost on hold can be resumed"):
        await staff_act(boost["id"], "resume", by="ops@example.org")
    with pytest.raises(UserError, match="Choose one of"):
        await staff_act(boost["id"], "launch", by="ops@example.org")
    await sign_in(client, "ops@example.org", role="staff")
    assert (await act(client, boost["id"], "launch")).status_code == 400
    assert (await act(client, 999999, "hold")).status_code == 404


async def test_excluding_a_candidate_skips_its_unsent_emails_and_it_never_qualifies_again(client, clock):
    await members(60)
    petition = await signed_petition(signers=20)
    await run(clock)
    boost = await boost_of(petition)
    await sign_in(client, "ops@example.org", role="staff")

    await act(client, boost["id"], "exclude")
    await run(clock)

    assert (await boost_of(petition))["status"] == "excluded"
    [stage] = await stages(petition)
    assert stage["closed_at"] is not None
    from tests.core.boost_runner.conftest import recipients

    assert await recipients(stage["mailing"], "queued") == set()
    assert (await sentences(petition))[-1].startswith("staff excluded: ")


async def test_members_and_leaders_cannot_reach_the_staff_page_and_only_admins_change_settings(client):
    await sign_in(client, "leader@example.org", role="leader")
    assert (await client.get("/staff/boosts")).status_code == 403
    await sign_in(client, "ops@example.org", role="staff")
    page = await client.get("/staff/boosts")
    assert page.status_code == 200 and "No petition has qualified yet." in page.text
    assert "Save boost settings" not in page.text

    await sign_in(client, "admin@example.org", role="admin")
    saved = await submit(
        client,
        "/staff/boosts",
        "/staff/boosts/settings",
        {
            "boost_threshold": "50",
            "boost_first_stage": "1000",
            "boost_window_hours": "6",
            "boost_daily_per_100": "30",
            "boost_member_gap_days": "7",
        },
    )
    assert saved.status_code == 200 and "The boost settings are saved" in saved.text
    assert await get_policy("boost_threshold") == 50
    assert await get_policy("boost_daily_per_100") == 30
    refused = await submit(client, "/staff/boosts", "/staff/boosts/settings", {"boost_threshold": "7"})
    assert refused.status_code == 400 and "Choose the threshold from the list" in refused.text


async def test_the_leader_sees_that_the_petition_qualifies_and_every_decision(client, clock):
    await members(100)
    petition = await signed_petition(signers=12)
    await sign_in(client, "staff@example.org", role="staff")
    before = (await client.get(f"/lead/petitions/{petition}")).text
    assert "At 20 signatures your petition qualifies for a member sample" in before
    assert "8 to go." in before

    petition = await signed_petition("Light the park paths", signers=20)
    await run(clock)
    page = (await client.get(f"/lead/petitions/{petition}")).text
    assert "Your petition qualifies for a member sample." in page
    assert "20 signatures, qualifies for a member sample → sample of 50" in page
