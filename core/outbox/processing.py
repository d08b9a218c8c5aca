"""Claiming and processing outbox items: what a worker does when told "work on topic X".

A claim is one atomic UPDATE (with SKIP LOCKED on PostgreSQL; SQLite serializes writers), so
any number of workers can drain the same topic without taking the same item. Each item's
handler runs in one transaction with the write that marks it done, guarded by the claim's
lease token: a worker that lost its lease (it stalled past the lease and another took over)
rolls back instead of finishing the item a second time.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from datetime import UTC, datetime

from piccolo.engine.postgres import PostgresEngine

from core.db import database
from core.outbox.queue import transaction
from core.outbox.registry import (
    OutboxWork,
    PermanentFailure,
    RetryLater,
    TopicHandler,
    handler_for,
)
from core.outbox.tables import OutboxItem

log = logging.getLogger("groundswell.outbox")


class LeaseLost(Exception):
    """Another worker reclaimed this item; our transaction must not commit."""


_CLAIM = """
UPDATE outbox_item
SET status = 'processing', lease_until = {{}}, lease_token = {{}}, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox_item
    WHERE topic = {{}}
      AND ((status = 'pending' AND available_at <= {{}})
           OR (status = 'processing' AND lease_until < {{}}))
    ORDER BY id
    LIMIT {{}} {lock}
)
RETURNING id, topic, key, payload, attempts
"""


def _claim_sql() -> str:
    lock = "FOR UPDATE SKIP LOCKED" if isinstance(database(), PostgresEngine) else ""
    return _CLAIM.format(lock=lock)


async def claim(topic: TopicHandler, lease_token: str, now: float | None = None) -> list[OutboxWork]:
    now = time.time() if now is None else now
    rows = await OutboxItem.raw(
        _claim_sql(),
        now + topic.lease_seconds,
        lease_token,
        topic.topic,
        now,
        now,
        topic.batch_size,
    )
    work = []
    for row in sorted(rows, key=lambda r: r["id"]):
        payload = row["payload"]
        if isinstance(payload, str):
            payload = json.loads(payload or "{}")
        work.append(
            OutboxWork(
                id=row["id"],
                topic=row["topic"],
                key=row["key"],
                payload=payload,
                attempts=row["attempts"],
            )
        )
    return work


def backoff(topic: TopicHandler, attempts: int) -> float:
    """Exponential backoff with full jitter, capped (DESIGN §5: at most 6 h)."""
    ceiling = min(topic.backoff_cap, topic.backoff_base * (2 ** max(attempts - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)


async def _finish(item: OutboxWork, lease_token: str, /, **values: object) -> bool:
    """Set columns of `item` if our claim still holds it; False if it changed hands.
    Positional-only, so that `lease_token=""` in `values` sets the column."""
    # Column names come from this module's callers, never from input; values are parameters.
    result = await OutboxItem.raw(
        "UPDATE outbox_item SET "  # noqa: S608
        + ", ".join(f"{name} = {{}}" for name in values)
        + " WHERE id = {} AND lease_token = {} AND status = 'processing' RETURNING id",
        *values.values(),
        item.id,
        lease_token,
    )
    return bool(result)


async def _run_handler(topic: TopicHandler, item: OutboxWork, lease_token: str) -> None:
    # Still ours? A batch can outlast its lease and its tail be reclaimed meanwhile; then the
    # handler must not run here too. Inside a transaction, renewing the lease also locks the row
    # (PostgreSQL; SQLite locks the database), so nobody can reclaim the item meanwhile.
    if not await _finish(item, lease_token, lease_until=time.time() + topic.lease_seconds):
        raise LeaseLost(item.key)
    await topic.fn(item)
    if not await _finish(item, lease_token, status="done", last_error="", finished_at=datetime.now(UTC)):
        raise LeaseLost(item.key)


async def _process_one(topic: TopicHandler, item: OutboxWork, lease_token: str) -> str:
    try:
        if topic.transactional:
            # `transaction()`: work the handler enqueues is announced only once this commits.
            async with transaction():
                await _run_handler(topic, item, lease_token)
        else:
            await _run_handler(topic, item, lease_token)
        return "done"
    except LeaseLost:
        log.warning("outbox item %s lost its lease; another worker has it", item.key)
        return "lost"
    except PermanentFailure as exc:
        await _finish(
            item, lease_token, status="dead", last_error=str(exc)[:2000], finished_at=datetime.now(UTC)
        )
        log.error("outbox item %s failed permanently: %s", item.key, exc)
        return "dead"
    except Exception as exc:  # any handler error: retry later, dead-letter after max attempts
        reason = f"{type(exc).__name__}: {exc}"[:2000]
        if item.attempts >= topic.max_attempts:
            await _finish(item, lease_token, status="dead", last_error=reason, finished_at=datetime.now(UTC))
            log.error("outbox item %s dead after %d attempts: %s", item.key, item.attempts, reason)
            return "dead"
        delay = exc.delay if isinstance(exc, RetryLater) and exc.delay is not None else None
        delay = backoff(topic, item.attempts) if delay is None else delay
        await _finish(
            item,
            lease_token,
            status="pending",
            last_error=reason,
            available_at=time.time() + delay,
            lease_token="",
        )
        if not isinstance(exc, RetryLater):
            log.warning(
                "outbox item %s failed (attempt %d), retry in %.0fs: %s",
                item.key,
                item.attempts,
                delay,
                reason,
                exc_info=exc,
            )
        return "retry"


async def drain(topic_name: str, time_budget: float = 30.0) -> dict[str, int]:
    """Process due items of a topic until none are due or the time budget is spent.
    Returns counts by outcome; `more` > 0 means due work was left for the next message."""
    topic = handler_for(topic_name)
    counts = {"done": 0, "retry": 0, "dead": 0, "lost": 0, "more": 0}
    if topic is None:
        log.error("no handler registered for outbox topic %r; is its plugin enabled?", topic_name)
        return counts
    deadline = time.monotonic() + time_budget
    while time.monotonic() < deadline:
        lease_token = secrets.token_hex(16)
        batch = await claim(topic, lease_token)
        if not batch:
            return counts
        for index, item in enumerate(batch):
            if time.monotonic() >= deadline:
                await release_claims(lease_token, [i.id for i in batch[index:]])
                counts["more"] += len(batch) - index
                return counts
            counts[await _process_one(topic, item, lease_token)] += 1
    counts["more"] += 1
    return counts


async def release_claims(lease_token: str, ids: list[int]) -> None:
    """Hand claimed-but-unstarted items back, so they need not wait for their lease to lapse."""
    if not ids:
        return
    placeholders = ", ".join("{}" for _ in ids)
    await OutboxItem.raw(
        "UPDATE outbox_item SET status = 'pending', lease_token = '', attempts = attempts - 1 "  # noqa: S608
        f"WHERE lease_token = {{}} AND status = 'processing' AND id IN ({placeholders})",
        lease_token,
        *ids,
    )


async def due_topics(now: float | None = None) -> list[str]:
    """Topics with work that is due or whose lease lapsed: what the sweeper re-announces."""
    now = time.time() if now is None else now
    rows = await OutboxItem.raw(
        "SELECT DISTINCT topic FROM outbox_item WHERE "
        "(status = 'pending' AND available_at <= {}) OR (status = 'processing' AND lease_until < {})",
        now,
        now,
    )
    return sorted(row["topic"] for row in rows)
