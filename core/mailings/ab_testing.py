"""A/B subject tests and the circuit breaker.

A test sends each subject variant to an equal share of a random slice of the audience
(`test_fraction`); the rest wait. After `test_window_seconds` the variant with the most
actions (signatures) per message wins — or, if nobody signed yet, the most clicking people
per message — and the rest get the winner's subject.

The circuit breaker halts a mailing whose recipients tell us it is unwelcome: when, once at
least BREAKER_MIN_SENT messages have left, the share who unsubscribed or complained, or the
share that bounced, crosses the mailing's threshold. During a test it judges the test slice,
which is the point of the test: a bad email reaches a tenth of the audience, not all of it.
Once staff resume a halted mailing the breaker leaves it alone (their call, on those numbers).
"""

from __future__ import annotations

import logging
import string
from datetime import UTC, datetime

from core.mailings.report import VariantReport, variant_numbers
from core.mailings.tables import Delivery, Mailing

log = logging.getLogger("groundswell.mailings")

LABELS = tuple(string.ascii_uppercase[:8])
BREAKER_MIN_SENT = 20


async def assign_test_slice(mailing_id: int, labels: list[str], fraction: float, total: int) -> int:
    """Move a random `fraction` of the mailing's waiting deliveries to the queue, dealt out
    evenly across `labels`. Returns the size of the slice (at least one per variant)."""
    size = min(total, max(len(labels), round(total * fraction)))
    letters = "".join(labels)
    # row_number over a random order: a uniform random slice, and an exact round-robin deal.
    await Delivery.raw(
        "UPDATE delivery SET status = 'queued', "
        "variant = substr(CAST({} AS TEXT), CAST((r.n % {}) AS INTEGER) + 1, 1) "
        "FROM (SELECT id, row_number() OVER (ORDER BY random()) - 1 AS n FROM delivery "
        "WHERE mailing = {} AND status = 'waiting') AS r "
        "WHERE delivery.id = r.id AND r.n < {}",
        letters,
        len(labels),
        mailing_id,
        size,
    )
    return size


def _combined(numbers: dict[str, VariantReport], labels: list[str] | None) -> VariantReport:
    total = VariantReport("")
    for label, row in numbers.items():
        if labels is None or label in labels:
            total.add(row)
    return total


async def breaker_reason(mailing: dict) -> str:
    """Why the breaker would halt this mailing now ("" if it would not)."""
    if mailing["halted_reason"]:
        return ""
    numbers = await variant_numbers(mailing)
    in_test = mailing["test_fraction"] > 0 and not mailing["winner"]
    judged = _combined(numbers, [label for label in numbers if label] if in_test else None)
    if judged.sent < BREAKER_MIN_SENT:
        return ""
    what = "the test slice" if in_test else "this mailing"
    unwelcome = judged.unsubscribed + judged.complaints
    if unwelcome / judged.sent > mailing["max_unsubscribe_rate"]:
        return (
            f"Halted by the circuit breaker: {unwelcome} of {judged.sent:,} recipients of {what} "
            f"unsubscribed or complained ({unwelcome / judged.sent:.1%}, limit "
            f"{mailing['max_unsubscribe_rate']:.1%})."
        )
    if judged.bounced / judged.sent > mailing["max_bounce_rate"]:
        return (
            f"Halted by the circuit breaker: {judged.bounced} of {judged.sent:,} messages of {what} "
            f"bounced ({judged.bounced / judged.sent:.1%}, limit {mailing['max_bounce_rate']:.1%})."
        )
    return ""


async def trip_breaker_if_needed(mailing_id: int) -> bool:
    """Halt the mailing if the breaker says so; True if it is halted now."""
    mailing = await Mailing.select().where(Mailing.id == mailing_id).first()
    if mailing is None or mailing["status"] not in ("sending", "testing"):
        return False
    reason = await breaker_reason(mailing)
    if not reason:
        return False
    halted = (
        await Mailing.update(
            {Mailing.status: "halted", Mailing.halted_reason: reason, Mailing.updated_at: datetime.now(UTC)}
        )
        .where((Mailing.id == mailing_id) & Mailing.status.is_in(["sending", "testing"]))
        .returning(Mailing.id)
    )
    if halted:
        log.warning("mailing %s: %s", mailing_id, reason)
    return True


def choose_winner(numbers: dict[str, VariantReport], labels: list[str]) -> str:
    """Most actions per message; with no actions at all, most clicking people per message;
    ties (and a test nobody received) go to the earlier label."""
    rows = [numbers.get(label) or VariantReport(label) for label in labels]
    use_actions = any(row.actions for row in rows)

    def score(row: VariantReport) -> float:
        return row.action_rate if use_actions else row.click_rate

    best = labels[0]
    for row in rows:
        if score(row) > score(numbers.get(best) or VariantReport(best)):
            best = row.label
    return best


async def decide_winner(mailing_id: int) -> str:
    """Pick the winner, give the waiting remainder its subject, and wake the sender.
    Idempotent: a mailing with a winner keeps it."""
    from core.mailings.sending import wake
    from core.mailings.tables import MailingVariant
    from core.outbox import transaction

    mailing = await Mailing.select().where(Mailing.id == mailing_id).first()
    if mailing is None or mailing["winner"] or mailing["status"] not in ("sending", "testing"):
        return mailing["winner"] if mailing else ""
    labels = [
        row["label"]
        for row in await MailingVariant.select(MailingVariant.label)
        .where(MailingVariant.mailing == mailing_id)
        .order_by(MailingVariant.label)
    ]
    if not labels:
        return ""
    winner = choose_winner(await variant_numbers(mailing), labels)
    async with transaction():
        chosen = (
            await Mailing.update(
                {Mailing.winner: winner, Mailing.status: "sending", Mailing.updated_at: datetime.now(UTC)}
            )
            .where(
                (Mailing.id == mailing_id)
                & (Mailing.winner == "")
                & Mailing.status.is_in(["sending", "testing"])
            )
            .returning(Mailing.id)
        )
        if not chosen:
            return ""
        await Delivery.update({Delivery.status: "queued", Delivery.variant: winner}).where(
            (Delivery.mailing == mailing_id) & (Delivery.status == "waiting")
        )
        await wake(mailing_id, "winner")
    log.info("mailing %s: variant %s won the subject test", mailing_id, winner)
    return winner


async def tests_due(now: datetime | None = None) -> list[int]:
    """A/B mailings whose test window has passed without a winner."""
    now = now or datetime.now(UTC)
    rows = await Mailing.select(Mailing.id, Mailing.test_started_at, Mailing.test_window_seconds).where(
        Mailing.status.is_in(["sending", "testing"]) & (Mailing.winner == "") & (Mailing.test_fraction > 0)
    )
    return [
        row["id"]
        for row in rows
        if row["test_started_at"] is not None
        and (now - row["test_started_at"]).total_seconds() >= row["test_window_seconds"]
    ]
