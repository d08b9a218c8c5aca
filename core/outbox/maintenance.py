"""Keeping the outbox small: finished items are deleted once they are old."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.outbox.periodic import periodic
from core.outbox.registry import OutboxWork
from core.outbox.tables import OutboxItem

# Keys of finished work are kept this long, so a repeated enqueue inside it stays a no-op
# (DESIGN §5: idempotency keys are kept 30 days). Dead items stay for the admin to see.
KEEP_DONE = timedelta(days=30)


@periodic("outbox.purge", every_seconds=3600)
async def purge_finished(_: OutboxWork) -> None:
    await OutboxItem.delete().where(
        (OutboxItem.status == "done") & (OutboxItem.finished_at < datetime.now(UTC) - KEEP_DONE)
    )
