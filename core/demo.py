"""Demo data, so a newcomer's first look is at a living instance rather than an empty one.

Everything is fictional and marked with source "demo"; loading twice changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.boost.demo import load_demo_boosts
from core.groups.service import create_group
from core.groups.tables import Group
from core.people.service import get_or_create_person
from core.petitions.service import PetitionInput, TargetInput, create_petition, submit_petition
from core.petitions.signing import SignatureInput, sign
from core.petitions.stats import refresh_stats
from core.petitions.tables import Petition, Signature

FIRST = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jo",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Vik",
    "Wen",
    "Yara",
    "Zoë",
]
LAST = [
    "Adams",
    "Bauer",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jones",
    "Kim",
    "Lopez",
    "Mensah",
    "Novak",
    "Okafor",
    "Patel",
    "Quist",
    "Rossi",
    "Singh",
    "Tanaka",
]
SOURCES = ["", "", "", "share-whatsapp", "share-facebook", "share-email", "mail-newsletter"]
COMMENTS = [
    "My kids walk this way every day.",
    "Long overdue!",
    "",
    "",
    "",
    "Signed for my grandmother.",
    "Please act before winter.",
]


@dataclass(frozen=True)
class DemoPetition:
    title: str
    summary: str
    body: str
    target: TargetInput
    goal: int
    signatures: int
    group: str | None
    scope: tuple[str, str] = ("national", "")
    # Of `signatures`, how many come from members its boost's first sample reached (core.boost.demo).
    boosted: int = 0


PETITIONS = [
    DemoPetition(
        "Reopen the Riverside footbridge",
        "Two years closed: children now walk along the ring road to school.",
        "The Riverside footbridge has been closed since the flood two years ago.\n\n"
        "**We ask the Council to fund the repair in this year's budget** and reopen it by "
        "September, so children can walk to school safely.",
        TargetInput("Jane Okoro", "Mayor of Riverside"),
        500,
        180,
        "Riverside Council",
        ("postal", "AB1"),
    ),
    DemoPetition(
        "Keep Hillview library open on Sundays",
        "Sunday is the only day many working families can visit.",
        "The library board plans to close on Sundays to save money.\n\n"
        "Sunday is when working parents, shift workers and students use it most. Keep it open.",
        TargetInput("Library Board", "Hillview Public Library"),
        1000,
        95,
        "Hillview Council",
        ("region", "South"),
        boosted=3,
    ),
    DemoPetition(
        "A safe crossing outside Elm Street primary school",
        "Cars speed past the school gate every morning.",
        "Install a signalised crossing and a 20 mph limit outside Elm Street primary.",
        TargetInput("Transport Committee", "Riverside Council"),
        250,
        40,
        "Riverside Council",
        boosted=11,
    ),
    DemoPetition(
        "Free period products in every public school",
        "No student should miss class for lack of them.",
        "Fund free period products in every public school bathroom, as several states already do.",
        TargetInput("Minister for Education"),
        10000,
        20,
        None,
    ),
]


def _fake_signer(rng: random.Random, index: int) -> SignatureInput:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return SignatureInput(
        name=f"{first} {last}",
        email=f"demo-{index}-{first.lower().replace('ë', 'e')}.{last.lower()}@example.org",
        postal_code=f"AB{rng.randint(1, 9)} {rng.randint(1, 9)}CD",
        comment=rng.choice(COMMENTS),
        keep_updated=rng.random() < 0.6,
        share_with_creator=rng.random() < 0.7,
        source=rng.choice(SOURCES),
    )


async def load_demo() -> str:
    """Load the demo campaigns; returns a one-line summary of what was done."""
    from core.petitions.service import slugify

    if await Petition.exists().where(Petition.slug == slugify(PETITIONS[0].title)):
        return "Demo data is already loaded; nothing to do."
    rng = random.Random(20261125)  # the same demo every time
    groups: dict[str, int] = {}
    for name, region in (("Riverside Council", "North"), ("Hillview Council", "South")):
        existing = await Group.objects().where(Group.name == name).first()
        group = existing or await create_group(name, region=region, description=f"The {name}'s campaigns.")
        groups[name] = group.id
    creator, _ = await get_or_create_person(
        "demo-organizer@example.org", given_name="Demo", family_name="Organizer", source="demo"
    )
    signer_index = 0
    now = datetime.now(UTC)
    boosted: dict[int, int] = {}
    for demo in PETITIONS:
        petition = await create_petition(
            PetitionInput(
                title=demo.title,
                summary=demo.summary,
                body=demo.body,
                targets=[demo.target],
                goal=demo.goal,
                scope_kind=demo.scope[0],
                scope_value=demo.scope[1],
                group_id=groups[demo.group] if demo.group else None,
            ),
            creator_id=creator.id,
        )
        await submit_petition(petition.id, trusted=True)
        boosted[petition.id] = demo.boosted
        for n in range(demo.signatures - demo.boosted):
            result = await sign(petition.id, _fake_signer(rng, signer_index))
            signer_index += 1
            # Spread signatures over two weeks, growing, so charts have a shape.
            age = timedelta(days=14 * (1 - (n / demo.signatures) ** 0.5), minutes=rng.randint(0, 600))
            await Signature.update({Signature.created_at: now - age}).where(
                Signature.id == result.signature_id
            )
        await Petition.update({Petition.published_at: now - timedelta(days=14)}).where(
            Petition.id == petition.id
        )
    await refresh_stats()
    await load_demo_boosts(boosted, now=now)
    await refresh_stats()
    total = sum(p.signatures for p in PETITIONS)
    return f"Loaded {len(PETITIONS)} demo petitions, 2 groups and {total} signatures."
