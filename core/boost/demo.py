"""A boost history for the demo instance, so a newcomer sees the engine's decisions at once.

The real runner does the work, on a clock set two days back: the demo's petitions qualify and
each gets its random first sample from a few hundred fictional members. The demo's addresses
are not real, so those first emails are recorded as delivered rather than sent (`simulated`); some recipients
then sign through the link they were sent (with its source code), and the runner, back at the
present, closes the windows and decides — one petition expands, another gets a further look,
the rest stop. The stages it starts from then on go through the real sender like any other.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from core.boost import BoostPolicy
from core.boost.runner import run_boosts
from core.boost.tables import Boost, BoostStage
from core.mailings.tables import Delivery
from core.people.emails import email_key
from core.people.tables import Person
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Signature

MEMBERS = 600
# Small stages and a generous budget, so the history fits the demo's few hundred members.
DEMO_POLICY = BoostPolicy(first_stage_size=100, small_stage_size=100, daily_budget_per_member=1.0)


async def _members(rng: random.Random) -> None:
    people = []
    for n in range(MEMBERS):
        address = f"demo-member-{n}@example.org"
        people.append(
            Person(
                email=address,
                email_key=email_key(address),
                given_name=f"Member{n}",
                family_name="Demo",
                postal_code=f"AB{rng.randint(1, 9)} {rng.randint(1, 9)}CD",
                region=rng.choice(("North", "South", "South")),
                consent_instance_email=True,
                source="demo",
            )
        )
    await Person.insert(*people).on_conflict(target=Person.email_key, action="DO NOTHING")


async def load_demo_boosts(signups: dict[int, int], *, now: datetime | None = None) -> None:
    """Boost the demo's petitions; `signups` says how many first-sample recipients of each
    petition (by id) sign through the emailed link."""
    now = now or datetime.now(UTC)
    rng = random.Random(20261126)
    await _members(rng)
    start = now - timedelta(days=2)
    await run_boosts(now=start, policy=DEMO_POLICY, simulated=True)

    for boost in await Boost.select(Boost.id, Boost.petition, Boost.source_code):
        stage = (
            await BoostStage.select()
            .where((BoostStage.boost == boost["id"]) & (BoostStage.number == 1))
            .first()
        )
        if stage is None or stage["mailing"] is None:
            continue
        mailed = await Delivery.select(Delivery.person.email).where(Delivery.mailing == stage["mailing"])
        chosen = rng.sample(mailed, min(signups.get(boost["petition"], 0), len(mailed)))
        for row in chosen:
            result = await sign(
                boost["petition"],
                SignatureInput(
                    name="Demo Member",
                    email=row["person.email"],
                    keep_updated=True,
                    source=f"{boost['source_code']}-1",
                ),
            )
            signed_at = start + timedelta(hours=rng.uniform(0.2, 12))
            await Signature.update({Signature.created_at: signed_at}).where(
                Signature.id == result.signature_id
            )

    await run_boosts(now=start + timedelta(minutes=15), policy=DEMO_POLICY, simulated=True)  # windows open
    await run_boosts(now=now, policy=DEMO_POLICY)  # and close: the engine decides
