"""Fixtures for the boost runner: consenting members in bulk, petitions that reach their
threshold, a real SMTP sink for the sender, and a clock the tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.boost import BoostPolicy
from core.boost.runner import RunReport, run_boosts
from core.boost.tables import Boost, BoostDecisionLog, BoostStage
from core.instance_settings import set_policy
from core.mailings.tables import Delivery
from core.petitions import counter
from core.petitions.tables import Petition
from tests.core.mailings.conftest import add_members, send_all, smtp, unlimited  # noqa: F401
from tests.support.petitions import published_petition

# Small stages and a budget that never binds, unless a test says otherwise.
POLICY = BoostPolicy(first_stage_size=50, small_stage_size=50, window_seconds=60, daily_budget_per_member=1.0)


async def members(count: int, *, prefix: str = "member", **fields: Any) -> list[int]:
    """`count` subscribed members who consented to the instance's email."""
    return await add_members(count, prefix=prefix, **{"consent_instance_email": True, **fields})


async def signed_petition(
    title: str = "Fix the Riverside footbridge now", *, signers: int = 20, **fields
) -> int:
    """A published petition with `signers` counted signatures from members of its own."""
    petition = await published_petition(title, **fields)
    people = await add_members(signers, prefix=f"signer{petition.id}x")
    from tests.core.mailings.conftest import add_signers

    await add_signers(petition.id, people)
    await counter.add(petition.id, signers)
    return petition.id


class Clock:
    """The runner's `now`, moved by hand: windows end when the test says so."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def quiet_caps(unlimited) -> None:  # noqa: F811
    """No instance frequency cap and a one-day boost gap."""
    await set_policy("boost_member_gap_days", 1)


async def run(clock: Clock, policy: BoostPolicy = POLICY) -> RunReport:
    return await run_boosts(now=clock.now, policy=policy)


async def boost_of(petition_id: int) -> dict[str, Any]:
    row = await Boost.select().where(Boost.petition == petition_id).first()
    assert row is not None, "the petition has no boost"
    return row


async def stages(petition_id: int) -> list[dict[str, Any]]:
    boost = await boost_of(petition_id)
    return await BoostStage.select().where(BoostStage.boost == boost["id"]).order_by(BoostStage.number)


async def sentences(petition_id: int) -> list[str]:
    boost = await boost_of(petition_id)
    rows = (
        await BoostDecisionLog.select(BoostDecisionLog.sentence)
        .where(BoostDecisionLog.boost == boost["id"])
        .order_by(BoostDecisionLog.id)
    )
    return [r["sentence"] for r in rows]


async def recipients(mailing_id: int, status: str | None = None) -> set[int]:
    query = Delivery.select(Delivery.person).where(Delivery.mailing == mailing_id)
    if status:
        query = query.where(Delivery.status == status)
    return {row["person"] for row in await query}


async def petition_status(petition_id: int) -> str:
    row = await Petition.select(Petition.status).where(Petition.id == petition_id).first()
    return row["status"]


@pytest.fixture
async def instance_boost_policy(quiet_caps, monkeypatch: pytest.MonkeyPatch) -> None:
    """The instance itself set up as in POLICY (so the periodic job, should it run during a
    test, decides exactly as the test does), and the test client's address trusted by the
    signing rate limits."""
    import dataclasses

    import core.boost.runner
    from core.settings import current_settings

    await set_policy("boost_first_stage", POLICY.first_stage_size)
    await set_policy("boost_daily_per_100", round(POLICY.daily_budget_per_member * 100))
    await set_policy("trusted_ips", "127.0.0.1")
    settings = dataclasses.replace(current_settings(), boost_window_seconds=POLICY.window_seconds)
    monkeypatch.setattr(core.boost.runner, "current_settings", lambda: settings)
