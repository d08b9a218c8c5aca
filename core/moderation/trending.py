"""Where a petition's signatures come from, for staff looking for a flood: the IP addresses
and email domains with the most signatures in the last hour or day, and the petitions signed
most recently across the instance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.petitions.tables import Signature

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
TOP = 20

_TOP = """
SELECT {column} AS value, COUNT(*) AS total,
       SUM(CASE WHEN status = 'held' THEN 1 ELSE 0 END) AS held
FROM signature
WHERE petition = {{}} AND created_at > {{}} AND {column} <> ''
GROUP BY {column}
ORDER BY total DESC, value
LIMIT {{}}
"""

_BUSIEST = """
SELECT s.petition AS petition_id, p.title AS title, p.slug AS slug, COUNT(*) AS total,
       SUM(CASE WHEN s.status = 'held' THEN 1 ELSE 0 END) AS held
FROM signature s JOIN petition p ON p.id = s.petition
WHERE s.created_at > {}
GROUP BY s.petition, p.title, p.slug
ORDER BY total DESC, s.petition
LIMIT {}
"""

_HELD = """
SELECT s.petition AS petition_id, p.title AS title, p.slug AS slug, COUNT(*) AS held
FROM signature s JOIN petition p ON p.id = s.petition
WHERE s.status = 'held'
GROUP BY s.petition, p.title, p.slug
ORDER BY held DESC, s.petition
LIMIT {}
"""


@dataclass(frozen=True)
class Source:
    value: str
    total: int
    held: int


@dataclass(frozen=True)
class Trending:
    window: str
    since: datetime
    signatures: int
    ips: list[Source]
    domains: list[Source]


def window_of(name: str) -> str:
    return name if name in WINDOWS else "hour"


async def _top(column: str, petition_id: int, since: datetime, limit: int) -> list[Source]:
    rows = await Signature.raw(_TOP.format(column=column), petition_id, since, limit)
    return [Source(row["value"], int(row["total"]), int(row["held"] or 0)) for row in rows]


async def trending(petition_id: int, window: str = "hour", *, limit: int = TOP) -> Trending:
    """The top IPs and email domains by signatures on a petition within `window`."""
    window = window_of(window)
    since = datetime.now(UTC) - WINDOWS[window]
    signatures = await Signature.count().where(
        (Signature.petition == petition_id) & (Signature.created_at > since)
    )
    return Trending(
        window=window,
        since=since,
        signatures=signatures,
        ips=await _top("ip", petition_id, since, limit),
        domains=await _top("email_domain", petition_id, since, limit),
    )


async def busiest_petitions(window: str = "hour", *, limit: int = 10) -> list[dict]:
    """Petitions with the most signatures within `window`, with how many of those are held."""
    since = datetime.now(UTC) - WINDOWS[window_of(window)]
    rows = await Signature.raw(_BUSIEST, since, limit)
    return [{**row, "total": int(row["total"]), "held": int(row["held"] or 0)} for row in rows]


async def petitions_with_held(*, limit: int = 20) -> list[dict]:
    """Petitions that have held signatures waiting for staff."""
    rows = await Signature.raw(_HELD, limit)
    return [{**row, "held": int(row["held"])} for row in rows]
