"""The hub's directory of federated petitions, ranked by recent growth (signatures gained
in the last day, from the origins' cumulative reports), then by total."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from federation.tables import FederationCopy, FederationPeer

PAGE_SIZE = 50


@dataclass(frozen=True)
class Listing:
    rows: list[dict[str, Any]]
    page: int
    has_next: bool


async def listing(page: int = 1) -> Listing:
    rows = await (
        FederationCopy.select(
            FederationCopy.origin_node,
            FederationCopy.origin_id,
            FederationCopy.url,
            FederationCopy.status,
            FederationCopy.signature_count,
            FederationCopy.growth_day,
            FederationCopy.petition.slug,
            FederationCopy.petition.title,
            FederationCopy.petition.goal,
        )
        .where(FederationCopy.petition.is_not_null())
        .order_by(FederationCopy.growth_day, ascending=False)
        .order_by(FederationCopy.signature_count, ascending=False)
        .order_by(FederationCopy.id)
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    origins = {
        r["node_id"]: r["origin"]
        for r in await FederationPeer.select(FederationPeer.node_id, FederationPeer.origin)
    }
    listed = [
        {
            "title": r["petition.title"],
            "slug": r["petition.slug"],
            "goal": r["petition.goal"],
            "url": r["url"],
            "status": r["status"],
            "signatures": r["signature_count"],
            "growth_day": r["growth_day"],
            "node_id": r["origin_node"],
            "instance": origins.get(r["origin_node"], r["origin_node"]),
        }
        for r in rows[:PAGE_SIZE]
    ]
    return Listing(listed, page, len(rows) > PAGE_SIZE)
