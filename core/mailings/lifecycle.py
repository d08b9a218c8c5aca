"""A mailing's life after composing: send now or at a scheduled time, halt, resume, cancel.

`send_now` is where a mailing becomes work: in one transaction it resolves the audience into
delivery rows (a set-based INSERT … SELECT), deals out an A/B test slice, and queues the
sender's wake-up, which workers see only after the commit. Everything here is guarded by a
conditional UPDATE on the status, so two clicks, two processes or a click racing the scheduler
start a mailing once.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from core.errors import Conflict, UserError
from core.mailings.ab_testing import assign_test_slice
from core.mailings.audience import (
    count_audience,
    describe_audience,
    expand,
    parse_audience,
    resolve_deliveries,
)
from core.mailings.composing import composer_for, load_mailing
from core.mailings.sending import wake
from core.mailings.tables import Delivery, Mailing, MailingVariant
from core.outbox import transaction

MAX_SCHEDULE_AHEAD = timedelta(days=365)
# Statuses in which a mailing has not started and may be edited, scheduled or sent.
EDITABLE = ("draft", "scheduled")


async def send_now(mailing_id: int) -> int:
    """Start sending: resolve the audience into delivery rows and wake a sender, in one
    transaction. Returns the number of recipients. UserError for an empty audience or an
    email that does not render; Conflict if the mailing already started.

    With an A/B test, a random `test_fraction` of the recipients is queued, split evenly across
    the variants; the rest wait for the winner."""
    mailing = await load_mailing(mailing_id)
    if mailing["status"] not in EDITABLE:
        raise Conflict(f"This mailing cannot be sent: it is {mailing['status']}.")
    await composer_for(mailing)  # TemplateProblem before anything changes
    audience = await expand(parse_audience(mailing["audience"]))
    labels = [
        v["label"]
        for v in await MailingVariant.select(MailingVariant.label)
        .where(MailingVariant.mailing == mailing_id)
        .order_by(MailingVariant.label)
    ]
    testing = len(labels) > 1 and mailing["test_fraction"] > 0
    now = datetime.now(UTC)
    async with transaction():
        started = (
            await Mailing.update(
                {
                    Mailing.status: "sending",
                    Mailing.started_at: now,
                    Mailing.updated_at: now,
                    Mailing.test_started_at: now if testing else None,
                }
            )
            .where((Mailing.id == mailing_id) & Mailing.status.is_in(list(EDITABLE)))
            .returning(Mailing.id)
        )
        if not started:
            raise Conflict("This mailing has already started.")
        total = await resolve_deliveries(
            mailing_id, audience, mailing["topic"], status="waiting" if testing else "queued"
        )
        if total == 0:  # raising here rolls the start back: the mailing stays as it was
            raise UserError(
                f"Nobody in this audience can be mailed ({await describe_audience(audience)}): "
                "it is empty, or everyone in it unsubscribed, bounced or turned this topic off."
            )
        if testing:
            await assign_test_slice(mailing_id, labels, mailing["test_fraction"], total)
        await Mailing.update({Mailing.recipients: total}).where(Mailing.id == mailing_id)
        await wake(mailing_id, "start")
    return total


async def schedule(mailing_id: int, when: datetime) -> None:
    """Send at `when` (timezone-aware, in the future, within a year); the scheduler starts it
    within a minute of that time. Checks the email and the audience now, to fail early."""
    if when.tzinfo is None:
        raise UserError("Give the time with its timezone.")
    now = datetime.now(UTC)
    if when <= now + timedelta(seconds=30):
        raise UserError("Schedule the mailing for a time in the future, or send it now.")
    if when > now + MAX_SCHEDULE_AHEAD:
        raise UserError("Schedule the mailing within a year.")
    mailing = await load_mailing(mailing_id)
    if mailing["status"] not in EDITABLE:
        raise Conflict(f"This mailing cannot be scheduled: it is {mailing['status']}.")
    await composer_for(mailing)
    audience = parse_audience(mailing["audience"])
    if await count_audience(audience, mailing["topic"]) == 0:
        raise UserError(f"Nobody in this audience can be mailed ({await describe_audience(audience)}).")
    updated = (
        await Mailing.update(
            {Mailing.status: "scheduled", Mailing.scheduled_for: when, Mailing.updated_at: now}
        )
        .where((Mailing.id == mailing_id) & Mailing.status.is_in(list(EDITABLE)))
        .returning(Mailing.id)
    )
    if not updated:
        raise Conflict("This mailing has already started.")


async def start_scheduled(now: datetime | None = None) -> list[int]:
    """Start every scheduled mailing whose time has come (the periodic job calls this). One
    that cannot start (its audience emptied, a petition was deleted) is halted with the reason,
    so staff see it instead of it silently never going out."""
    now = now or datetime.now(UTC)
    due = (
        await Mailing.select(Mailing.id)
        .where((Mailing.status == "scheduled") & (Mailing.scheduled_for <= now))
        .order_by(Mailing.scheduled_for)
    )
    started = []
    for row in due:
        try:
            await send_now(row["id"])
            started.append(row["id"])
        except Conflict:
            continue  # another process started (or staff cancelled) it meanwhile
        except UserError as exc:
            await Mailing.update(
                {
                    Mailing.status: "halted",
                    Mailing.halted_reason: f"Could not start at the scheduled time: {exc.message}",
                    Mailing.updated_at: datetime.now(UTC),
                }
            ).where((Mailing.id == row["id"]) & (Mailing.status == "scheduled"))
    return started


async def cancel(mailing_id: int) -> None:
    """Call off a mailing that has not started, or stop a halted one for good (what was not
    sent is skipped, reason "mailing cancelled")."""
    mailing = await load_mailing(mailing_id)
    if mailing["status"] not in ("draft", "scheduled", "halted"):
        raise Conflict(f"A {mailing['status']} mailing cannot be cancelled; halt it first.")
    async with transaction():
        updated = (
            await Mailing.update({Mailing.status: "cancelled", Mailing.updated_at: datetime.now(UTC)})
            .where((Mailing.id == mailing_id) & Mailing.status.is_in(["draft", "scheduled", "halted"]))
            .returning(Mailing.id)
        )
        if not updated:
            raise Conflict("The mailing changed meanwhile; reload and try again.")
        await Delivery.update({Delivery.status: "skipped", Delivery.error: "mailing cancelled"}).where(
            (Delivery.mailing == mailing_id) & Delivery.status.is_in(["waiting", "queued"])
        )


async def halt(mailing_id: int, reason: str) -> None:
    """Stop sending now (each sender checks before every batch). What was not sent stays
    queued; `resume` continues, `cancel` gives up."""
    reason = " ".join((reason or "").split())[:500] or "Halted by staff."
    updated = (
        await Mailing.update(
            {Mailing.status: "halted", Mailing.halted_reason: reason, Mailing.updated_at: datetime.now(UTC)}
        )
        .where((Mailing.id == mailing_id) & Mailing.status.is_in(["sending", "testing"]))
        .returning(Mailing.id)
    )
    if not updated:
        mailing = await load_mailing(mailing_id)
        raise Conflict(f"Only a mailing that is sending can be halted; this one is {mailing['status']}.")


async def resume(mailing_id: int) -> None:
    """Continue a halted mailing where it stopped. The halt's reason stays on record, and the
    circuit breaker does not halt it again: resuming is a decision about those numbers."""
    mailing = await load_mailing(mailing_id)
    if mailing["status"] != "halted":
        raise Conflict(f"Only a halted mailing can be resumed; this one is {mailing['status']}.")
    if mailing["started_at"] is None:
        raise Conflict("This mailing never started (it could not start at its scheduled time); send it now.")
    async with transaction():
        updated = (
            await Mailing.update(
                {
                    Mailing.status: "sending",
                    Mailing.halted_reason: mailing["halted_reason"] or "Halted by staff.",
                    Mailing.updated_at: datetime.now(UTC),
                }
            )
            .where((Mailing.id == mailing_id) & (Mailing.status == "halted"))
            .returning(Mailing.id)
        )
        if not updated:
            raise Conflict("The mailing changed meanwhile; reload and try again.")
        await wake(mailing_id, f"resume:{secrets.token_hex(6)}")
