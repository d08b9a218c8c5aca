"""Waiting for background work in tests, without sleeping blindly."""

from __future__ import annotations

import asyncio
import time

from core.outbox.tables import OutboxItem


async def wait_for_outbox(timeout: float = 10.0, topic: str | None = None) -> None:
    """Until no item is pending or processing (raises AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        query = OutboxItem.count().where(OutboxItem.status.is_in(["pending", "processing"]))
        if topic:
            query = query.where(OutboxItem.topic == topic)
        if await query == 0:
            return
        if time.monotonic() > deadline:
            rows = await OutboxItem.select().where(OutboxItem.status != "done")
            raise AssertionError(f"outbox not drained after {timeout}s: {rows}")
        await asyncio.sleep(0.05)
