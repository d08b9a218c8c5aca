"""Keeping the directory's sort columns fresh: totals and signatures in the last day are
materialised periodically, so listing petitions never aggregates signatures on the fly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.outbox import OutboxWork
from core.outbox.periodic import periodic
from core.petitions.tables import Petition

_REFRESH = """
UPDATE petition SET
  signature_count = COALESCE(
    (SELECT SUM(c.count) FROM signature_count c WHERE c.petition = petition.id), 0),
  signatures_last_day = (
    SELECT COUNT(*) FROM signature s
    WHERE s.petition = petition.id AND s.status = 'counted' AND s.created_at > {})
WHERE status IN ('published', 'closed')
"""


async def refresh_stats() -> None:
    await Petition.raw(_REFRESH, datetime.now(UTC) - timedelta(days=1))


@periodic("petitions.refresh_stats", every_seconds=60)
async def refresh_stats_job(_: OutboxWork) -> None:
    await refresh_stats()
