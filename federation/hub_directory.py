"""The hub's directory of federated petitions, ranked by recent growth (signatures gained
in the last day, from every node's cumulative reports), then by total. The total shown is the
federation-wide one: the hub's own signatures on its copy plus every node's latest report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.plugin_api import SignatureCount
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
            FederationCopy.petition.id,
            FederationCopy.petition.slug,
            FederationCopy.petition.title,
            FederationCopy.petition.goal,
        )
        # Withdrawn by its origin or taken down by our staff: hidden here as on every page.
        .where(FederationCopy.petition.is_not_null() & (FederationCopy.petition.status != "rejected"))
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
    totals = await _totals([r["petition.id"] for r in rows[:PAGE_SIZE]])
    listed = [
        {
            "title": r["petition.title"],
            "slug": r["petition.slug"],
            "goal": r["petition.goal"],
            "url": r["url"],
            "status": r["status"],
            "signatures": totals.get(r["petition.id"], r["signature_count"]),
            "growth_day": r["growth_day"],
            "node_id": r["origin_node"],
            "instance": origins.get(r["origin_node"], r["origin_node"]),
        }
        for r in rows[:PAGE_SIZE]
    ]
    return Listing(listed, page, len(rows) > PAGE_SIZE)


async def _totals(petition_ids: list[int]) -> dict[int, int]:
    """Current totals from the counter shards (local signatures and the external shard that
    holds the other nodes' reports), so a signature on the hub's copy shows at once."""
    if not petition_ids:
        return {}
    rows = await SignatureCount.select(SignatureCount.petition, SignatureCount.count).where(
        SignatureCount.petition.is_in(petition_ids)
    )
    sums = dict.fromkeys(petition_ids, 0)
    for row in rows:
        sums[row["petition"]] += int(row["count"])
    return sums
