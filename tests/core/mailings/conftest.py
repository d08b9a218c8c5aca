"""Fixtures for the mail engine: members in bulk, signers, a real SMTP server the sender uses,
and draining the sender's outbox topic."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import core.mailings.sending
from core.instance_settings import set_policy
from core.mail import close_backends
from core.mailings.sending import TOPIC
from core.mailings.tables import Delivery
from core.outbox import drain
from core.outbox.tables import OutboxItem
from core.people.emails import email_key
from core.people.tables import Person
from core.petitions.tables import Signature
from core.settings import Settings, current_settings
from tests.support.smtp import SmtpServer


async def add_members(count: int, *, prefix: str = "member", start: int = 0, **fields: Any) -> list[int]:
    """`count` subscribed members, member0@example.org…, with given names Member0…"""
    people = []
    for n in range(start, start + count):
        email = f"{prefix}{n}@example.org"
        values = {"given_name": f"{prefix.title()}{n}", "family_name": "Example", **fields}
        people.append(Person(email=email, email_key=email_key(email), **values))
    rows = await Person.insert(*people).returning(Person.id)
    return [row["id"] for row in rows]


async def add_signers(petition_id: int, person_ids: list[int], *, source: str = "") -> None:
    await Signature.insert(
        *[Signature(petition=petition_id, person=pid, source=source, status="counted") for pid in person_ids]
    )


async def statuses(mailing_id: int) -> dict[str, int]:
    rows = await Delivery.raw(
        "SELECT status, COUNT(*) AS n FROM delivery WHERE mailing = {} GROUP BY status", mailing_id
    )
    return {row["status"]: int(row["n"]) for row in rows}


async def send_all(rounds: int = 5) -> None:
    """Run the sender's outbox work until nothing is due (continuations included)."""
    for _ in range(rounds):
        counts = await drain(TOPIC, time_budget=60)
        if not counts["done"] and not counts["more"]:
            return


async def make_deliveries_due() -> None:
    """Pretend backoffs have passed: queued deliveries and sender runs are due now."""
    await Delivery.update({Delivery.available_at: 0.0}).where(Delivery.status == "queued")
    await OutboxItem.update({OutboxItem.available_at: 0.0}).where(
        (OutboxItem.status == "pending") & (OutboxItem.topic == TOPIC)
    )


@pytest.fixture
async def unlimited() -> None:
    """No rate limit and no frequency cap, unless a test sets them."""
    await set_policy("mail_rate_per_second", 0)
    await set_policy("mail_frequency_cap", 0)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A real SMTP server on loopback that the sender (only) delivers to."""
    server = SmtpServer().start()
    settings = dataclasses.replace(current_settings(), smtp_url=server.url())
    monkeypatch.setattr(core.mailings.sending, "current_settings", lambda: settings)
    try:
        yield server
    finally:
        close_backends()
        server.stop()


@pytest.fixture
def sender_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Settings]]:
    def use(**changes: Any) -> Settings:
        settings = dataclasses.replace(current_settings(), **changes)
        monkeypatch.setattr(core.mailings.sending, "current_settings", lambda: settings)
        return settings

    yield use
    close_backends()
