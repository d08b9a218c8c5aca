"""The mail engine's background work, registered with the outbox when the worker loads it:
the sender (core.mailings.sending), starting scheduled mailings, and watching A/B tests —
choosing winners when their window closes and tripping the circuit breaker."""

from __future__ import annotations

import logging

import core.mailings.sending  # noqa: F401  (registers the sender's outbox handler)
from core.mailings.ab_testing import decide_winner, trip_breaker_if_needed
from core.mailings.lifecycle import start_scheduled
from core.mailings.tables import Mailing
from core.outbox import OutboxWork
from core.outbox.periodic import periodic

log = logging.getLogger("groundswell.mailings")


@periodic("mailings.start_scheduled", every_seconds=60)
async def start_scheduled_mailings(_: OutboxWork) -> None:
    started = await start_scheduled()
    if started:
        log.info("started scheduled mailings %s", started)


@periodic("mailings.watch", every_seconds=60)
async def watch_sending_mailings(_: OutboxWork) -> None:
    """The breaker also judges between batches; this catches unsubscribes and bounces that
    arrive after the last batch went out (a test slice waiting for its window)."""
    from core.mailings.ab_testing import tests_due

    for row in await Mailing.select(Mailing.id).where(Mailing.status.is_in(["sending", "testing"])):
        await trip_breaker_if_needed(row["id"])
    for mailing_id in await tests_due():
        await decide_winner(mailing_id)
