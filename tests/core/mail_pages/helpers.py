"""What the mail-page tests share: a leader with a published petition and its signers, and
waiting for a mailing's deliveries to leave."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from core.accounts.logins import login_for_email
from core.mailings.tables import Delivery, Mailing
from core.petitions.service import PetitionInput, TargetInput, create_petition, submit_petition
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Petition
from tests.support.accounts import sign_in


async def leader_with_petition(
    client: Any, email: str, title: str = "Reopen the Riverside footbridge"
) -> Petition:
    """Sign `email` in as a leader and give them a published petition."""
    await sign_in(client, email, "leader")
    login = await login_for_email(email)
    assert login is not None
    petition = await create_petition(
        PetitionInput(
            title=title,
            body="The footbridge has been closed for two years. Reopen it so children can walk to school.",
            targets=[TargetInput(name="Jane Mayor", title="Mayor of Riverside")],
        ),
        creator_id=login.person,
    )
    return await submit_petition(petition.id, trusted=True)


async def signers(petition: Petition, *people: tuple[str, str], share: bool = False) -> None:
    for name, email in people:
        await sign(petition.id, SignatureInput(name=name, email=email, share_with_creator=share))


async def wait_for_mailing(mailing_id: int, statuses: tuple[str, ...], timeout: float = 20.0) -> dict:
    """Until the mailing reaches one of `statuses` and none of its deliveries is queued."""
    deadline = time.monotonic() + timeout
    while True:
        mailing = await Mailing.select().where(Mailing.id == mailing_id).first()
        pending = await Delivery.count().where(
            (Delivery.mailing == mailing_id) & Delivery.status.is_in(["queued", "sending"])
        )
        if mailing["status"] in statuses and pending == 0:
            return mailing
        if time.monotonic() > deadline:
            rows = await Delivery.select(Delivery.status, Delivery.error).where(
                Delivery.mailing == mailing_id
            )
            raise AssertionError(f"mailing {mailing_id} is {mailing['status']} after {timeout}s: {rows}")
        await asyncio.sleep(0.1)


async def newest_mailing() -> int:
    row = await Mailing.select(Mailing.id).order_by(Mailing.id, ascending=False).first()
    assert row is not None
    return row["id"]
