"""Adding work to the outbox, and waking workers once it is committed."""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.db import write_transaction
from core.outbox.tables import OutboxItem

# Topics enqueued inside the current `transaction()` block, announced after commit.
_pending_topics: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "outbox_pending_topics", default=None
)


def _wake(topics: set[str]) -> None:
    from core.tasks.broker import notify

    for topic in sorted(topics):
        notify(topic)


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """A database transaction whose enqueued work is announced to workers only after commit,
    so a worker never looks for a row that is not visible yet."""
    if _pending_topics.get() is not None:  # nested: the outermost block announces
        async with write_transaction():
            yield
        return
    topics: set[str] = set()
    token = _pending_topics.set(topics)
    try:
        async with write_transaction():
            yield
    finally:
        _pending_topics.reset(token)
    _wake(topics)


@dataclass(frozen=True)
class NewWork:
    """One unit of work for `enqueue_many`."""

    topic: str
    key: str
    payload: dict[str, Any] = field(default_factory=dict)


async def enqueue(topic: str, key: str, payload: dict[str, Any] | None = None, *, delay: float = 0.0) -> bool:
    """Add one unit of work. Returns False if work with this key already exists (idempotent)."""
    return await enqueue_many([NewWork(topic, key, payload or {})], delay=delay) == 1


async def enqueue_many(work: Sequence[NewWork], *, delay: float = 0.0) -> int:
    """Add several units of work in one statement; returns how many were new. A key already
    queued is skipped, as with `enqueue`. One core event queued for every plugin that listens
    is one round trip on the signing path instead of one per plugin."""
    if not work:
        return 0
    available_at = time.time() + delay
    rows = await (
        OutboxItem.insert(
            *[
                OutboxItem(topic=w.topic, key=w.key, payload=w.payload, available_at=available_at)
                for w in work
            ]
        )
        .on_conflict(target=OutboxItem.key, action="DO NOTHING")
        .returning(OutboxItem.topic)
    )
    topics = {row["topic"] for row in rows}
    pending = _pending_topics.get()
    if pending is not None:
        pending.update(topics)
    elif topics:
        _wake(topics)
    return len(rows)


async def outbox_stats() -> dict[str, dict[str, int]]:
    """Counts per topic and status, for the admin page and /readyz diagnostics."""
    rows = await OutboxItem.raw("SELECT topic, status, COUNT(*) AS n FROM outbox_item GROUP BY topic, status")
    stats: dict[str, dict[str, int]] = {}
    for row in rows:
        stats.setdefault(row["topic"], {})[row["status"]] = int(row["n"])
    return stats
