"""Making petitions for tests."""

from __future__ import annotations

from core.petitions.service import PetitionInput, TargetInput, create_petition, submit_petition
from core.petitions.tables import Petition


async def published_petition(title: str = "Fix the Riverside footbridge now", **fields) -> Petition:
    data = PetitionInput(
        title=title,
        body=fields.pop(
            "body",
            "The footbridge has been closed for two years. Reopen it so children can walk to school safely.",
        ),
        targets=fields.pop("targets", [TargetInput(name="Jane Mayor", title="Mayor of Riverside")]),
        **fields,
    )
    petition = await create_petition(data, creator_id=None)
    return await submit_petition(petition.id, trusted=True)
