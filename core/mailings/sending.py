"""The sender: drains a mailing's queued delivery rows over the pooled mail backend.

The delivery rows are the queue. An outbox item per wake-up ("mailing 7 has work") runs
`run_sender`, which claims batches of due deliveries with a lease (SKIP LOCKED on PostgreSQL;
SQLite serializes writers), so any number of workers can drain one mailing without sharing a
row. For each batch it loads the people in one query, checks again — at send time, because
members change their minds — subscription, suppression, topic preferences and the frequency
cap in a few more (core.mailings.eligibility), renders with one Composer, and sends message by
message, marking each delivery sent as soon as the server has accepted it and before the next
goes out. A worker killed mid-batch therefore leaves at most
the one message in flight unknown; everything else is either marked sent or still claimable
once its lease lapses. (Several concurrent streams per worker were tried: on two cores they
gained nothing, the GIL being the limit, and each stream adds a message of uncertainty.)

Failures, per delivery: a 5xx refusal fails it with the server's words; a 4xx or an
unreachable server retries it later with exponential backoff, and after MAX_ATTEMPTS it fails
with the last reason. An unreachable server does not burn the attempts of the rest of the
batch: they go back to the queue with the same delay.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from core.db import database
from core.instance_settings import get_policy
from core.mail.backends import backend_for
from core.mail.errors import MailNotSent, SmtpUnavailable
from core.mail.message import message_id_for
from core.mailings.composing import Composer, composer_for, load_mailing
from core.mailings.eligibility import batch_facts, skip_reason
from core.mailings.mime import campaign_message
from core.mailings.tables import Delivery, Mailing
from core.outbox import OutboxWork, enqueue, handler
from core.settings import current_settings

log = logging.getLogger("groundswell.mailings")

TOPIC = "mailing.send"
# Deliveries claimed at once: the per-batch queries (claim, checks, policies) are amortised
# over this many messages.
BATCH_SIZE = 200
# A batch is claimed for this long; a killed worker's batch comes back after it.
LEASE_SECONDS = 120.0
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 60.0  # 1, 2, 4, 8, 16 minutes, then failed
BACKOFF_CAP_S = 3600.0
# One outbox run sends for at most this long, then hands over to a fresh run (so the outbox
# item's lease, 300 s, never lapses under a long mailing).
RUN_BUDGET_S = 25.0
ACTIVE_STATUSES = ("sending", "testing")


# -- waking senders -----------------------------------------------------------------------------


async def wake(mailing_id: int, reason: str, *, delay: float = 0.0) -> bool:
    """Queue a sender run for the mailing. `reason` makes the key: waking twice for the same
    reason (a retried start) queues one run."""
    return await enqueue(TOPIC, f"mailing:{mailing_id}:send:{reason}", {"mailing": mailing_id}, delay=delay)


@handler(TOPIC, batch_size=1, lease_seconds=300, max_attempts=50, backoff_base=10, transactional=False)
async def send_mailing(work: OutboxWork) -> None:
    mailing_id = int(work.payload["mailing"])
    outcome = await run_sender(mailing_id)
    if outcome.more:
        await wake(mailing_id, f"more:{secrets.token_hex(6)}")
    elif outcome.retry_at is not None:
        # Keyed by the due time: several senders that stop at once schedule one run.
        delay = max(0.0, outcome.retry_at - time.time())
        await wake(mailing_id, f"retry:{int(outcome.retry_at)}", delay=delay)


# -- the rate limit -----------------------------------------------------------------------------


class TokenBucket:
    """At most `rate` sends per second in this process, with bursts of up to one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = max(1.0, rate)
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(max(1.0, self.rate), self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


_buckets: dict[tuple[int, float], TokenBucket] = {}


def bucket_for(rate: float) -> TokenBucket:
    """One bucket per event loop and rate: every sender in the process shares it."""
    key = (id(asyncio.get_running_loop()), float(rate))
    bucket = _buckets.get(key)
    if bucket is None:
        if len(_buckets) > 32:
            _buckets.clear()
        bucket = _buckets[key] = TokenBucket(float(rate))
    return bucket


# -- claiming and marking -----------------------------------------------------------------------

_CLAIM = """
UPDATE delivery
SET status = 'sending', lease_until = {{}}, lease_token = {{}}, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM delivery
    WHERE mailing = {{}}
      AND ((status = 'queued' AND available_at <= {{}}) OR (status = 'sending' AND lease_until < {{}}))
    ORDER BY id
    LIMIT {{}} {lock}
)
RETURNING id, person, variant, attempts
"""


async def claim(mailing_id: int, lease_token: str, limit: int = BATCH_SIZE) -> list[dict[str, Any]]:
    lock = "FOR UPDATE SKIP LOCKED" if isinstance(database(), PostgresEngine) else ""
    now = time.time()
    rows = await Delivery.raw(
        _CLAIM.format(lock=lock), now + LEASE_SECONDS, lease_token, mailing_id, now, now, limit
    )
    return sorted(rows, key=lambda row: row["id"])


async def _set(delivery_ids: list[int], **values: Any) -> None:
    if not delivery_ids:
        return
    # Column names come from this module, never from input; values are parameters.
    sets = ", ".join(f"{name} = {{}}" for name in values)
    marks = ", ".join("{}" for _ in delivery_ids)
    await Delivery.raw(
        f"UPDATE delivery SET {sets} WHERE id IN ({marks})",  # noqa: S608
        *values.values(),
        *delivery_ids,
    )


async def mark_sent(delivery_id: int) -> None:
    await _set([delivery_id], status="sent", sent_at=datetime.now(UTC), error="", lease_token="")


async def release(delivery_ids: list[int], *, delay: float = 0.0, reason: str = "") -> None:
    """Hand claimed, unsent deliveries back to the queue without counting an attempt."""
    if not delivery_ids:
        return
    marks = ", ".join("{}" for _ in delivery_ids)
    await Delivery.raw(
        "UPDATE delivery SET status = 'queued', attempts = attempts - 1, lease_token = '', "  # noqa: S608
        f"available_at = {{}}, error = {{}} WHERE status = 'sending' AND id IN ({marks})",
        time.time() + delay,
        reason[:2000],
        *delivery_ids,
    )


def backoff(attempts: int) -> float:
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2 ** max(attempts - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)


# -- the run ------------------------------------------------------------------------------------


@dataclass
class SendOutcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    more: bool = False  # stopped for the time budget with due work left
    retry_at: float | None = None  # nothing due now; run again at this time
    stopped: str = ""  # the mailing is no longer sending (halted, cancelled, …)


async def _state(mailing_id: int) -> tuple[str, str]:
    """The mailing's status and A/B winner, read before every batch: staff halt it, the
    breaker trips, a winner is chosen while we send."""
    row = await Mailing.select(Mailing.status, Mailing.winner).where(Mailing.id == mailing_id).first()
    return (row["status"], row["winner"]) if row else ("deleted", "")


async def run_sender(mailing_id: int, *, budget: float = RUN_BUDGET_S) -> SendOutcome:
    """Send due deliveries of one mailing until none are due or `budget` seconds are spent."""
    from core.mailings.ab_testing import trip_breaker_if_needed

    outcome = SendOutcome()
    deadline = time.monotonic() + budget
    mailing = await load_mailing(mailing_id)
    if mailing["status"] not in ACTIVE_STATUSES:
        outcome.stopped = mailing["status"]
        return outcome
    composer = await composer_for(mailing)
    settings = current_settings()
    backend = backend_for(settings)
    breaker_checked = 0.0
    while True:
        if time.monotonic() >= deadline:
            outcome.more = True
            return outcome
        status, winner = await _state(mailing_id)
        if status not in ACTIVE_STATUSES:
            outcome.stopped = status
            return outcome
        in_test = bool(mailing["test_fraction"]) and not winner
        if in_test or time.monotonic() - breaker_checked > 10:
            breaker_checked = time.monotonic()
            if await trip_breaker_if_needed(mailing_id):
                outcome.stopped = "halted"
                return outcome
        lease_token = secrets.token_hex(16)
        batch = await claim(mailing_id, lease_token)
        if not batch:
            outcome.retry_at = await finish_if_done(mailing_id)
            return outcome
        await _send_batch(mailing, composer, backend, settings, batch, outcome)


async def _send_batch(
    mailing: dict[str, Any],
    composer: Composer,
    backend: Any,
    settings: Any,
    batch: list[dict[str, Any]],
    outcome: SendOutcome,
) -> None:
    facts = await batch_facts([row["person"] for row in batch], [row["id"] for row in batch])
    cap = int(await get_policy("mail_frequency_cap") or 0)
    bucket = bucket_for(float(await get_policy("mail_rate_per_second") or 0))
    skipped: dict[str, list[int]] = {}
    sendable = []
    for row in batch:
        person = facts.people.get(row["person"])
        reason = skip_reason(person, facts, mailing["topic"], cap)
        if reason:
            skipped.setdefault(reason, []).append(row["id"])
        else:
            sendable.append((row, person))
    for reason, ids in skipped.items():
        await _set(ids, status="skipped", error=reason, lease_token="")
        outcome.skipped += len(ids)

    # One message at a time, each marked sent before the next goes out. (Rendering the next
    # while the current is on the wire was slower: the two threads then fight for the GIL.)
    queue = iter(sendable)
    current = await _next_message(queue, composer, settings, outcome)
    while current is not None:
        row, message = current
        await bucket.take()
        try:
            await asyncio.to_thread(backend.send, message)
        except MailNotSent as exc:
            if isinstance(exc, SmtpUnavailable):
                # The server is away: the rest of the batch waits too, without spending an attempt.
                rest = [r for r, _ in queue]
                await release([r["id"] for r in rest], delay=backoff(1), reason=exc.reason)
                outcome.retried += len(rest)
                await _retry_or_fail(row, exc.reason, outcome)
                return
            if exc.permanent:
                await _set([row["id"]], status="failed", error=exc.reason[:2000], lease_token="")
                outcome.failed += 1
            else:
                await _retry_or_fail(row, exc.reason, outcome)
        except OSError as exc:  # the file backend: a full disk, a read-only data dir
            await _retry_or_fail(row, f"cannot store the message in {settings.mail_dir}: {exc}", outcome)
        else:
            await mark_sent(row["id"])
            outcome.sent += 1
        current = await _next_message(queue, composer, settings, outcome)


async def _next_message(
    queue: Iterator[tuple[dict[str, Any], dict[str, Any]]],
    composer: Composer,
    settings: Any,
    outcome: SendOutcome,
) -> tuple[dict[str, Any], Message] | None:
    """The next delivery with its message; one whose message cannot be built fails."""
    for row, person in queue:
        delivery_id = row["id"]
        try:
            rendered = composer.render(person, delivery_id=delivery_id, variant=row["variant"])
            name = " ".join(p for p in (person["given_name"], person["family_name"]) if p)
            message = campaign_message(
                rendered,
                to_name=name,
                to_address=person["email"],
                sender=composer.sender,
                message_id=message_id_for(f"delivery:{delivery_id}", settings.public_host),
            )
        except (ValueError, TypeError) as exc:
            await _set([delivery_id], status="failed", error=f"the message cannot be built: {exc}"[:2000])
            outcome.failed += 1
            continue
        return row, message
    return None


async def _retry_or_fail(row: dict[str, Any], reason: str, outcome: SendOutcome) -> None:
    if row["attempts"] >= MAX_ATTEMPTS:
        await _set(
            [row["id"]],
            status="failed",
            error=f"gave up after {row['attempts']} attempts: {reason}"[:2000],
            lease_token="",
        )
        outcome.failed += 1
        return
    await _set(
        [row["id"]],
        status="queued",
        error=reason[:2000],
        lease_token="",
        available_at=time.time() + backoff(row["attempts"]),
    )
    outcome.retried += 1


async def finish_if_done(mailing_id: int) -> float | None:
    """After the queue ran dry: mark the mailing sent (or, mid A/B test, testing), or say when
    deliveries waiting for a retry (or a lapsed lease) are due."""
    rows = await Delivery.raw(
        "SELECT status, COUNT(*) AS n, MIN(available_at) AS due, MIN(lease_until) AS lease "
        "FROM delivery WHERE mailing = {} AND status IN ('queued', 'sending', 'waiting') GROUP BY status",
        mailing_id,
    )
    by_status = {row["status"]: row for row in rows}
    due = [float(by_status["queued"]["due"])] if "queued" in by_status else []
    if "sending" in by_status:
        due.append(float(by_status["sending"]["lease"]))
    if due:
        return max(min(due), time.time() + 1)
    now = datetime.now(UTC)
    if "waiting" in by_status:  # the A/B remainder waits for the winner
        await Mailing.update({Mailing.status: "testing", Mailing.updated_at: now}).where(
            (Mailing.id == mailing_id) & (Mailing.status == "sending")
        )
        return None
    await Mailing.update({Mailing.status: "sent", Mailing.finished_at: now, Mailing.updated_at: now}).where(
        (Mailing.id == mailing_id) & Mailing.status.is_in(list(ACTIVE_STATUSES))
    )
    return None
