"""Sharded signature counts: a signature increments one of SHARDS rows chosen at random, so
concurrent signers rarely wait on the same row lock; reading sums the shards.

One more shard, EXTERNAL_SHARD, holds signatures counted elsewhere (a federated petition's
signatures on other nodes). Local signing never picks it, so the total is local + external,
and `local_signatures` is what this node itself collected."""

from __future__ import annotations

import random
from collections.abc import Iterable

from core.petitions.tables import Petition, SignatureCount

SHARDS = 16
EXTERNAL_SHARD = -1

_SET_EXTERNAL = (
    "INSERT INTO signature_count (petition, shard, count) VALUES ({}, {}, {}) "
    "ON CONFLICT (petition, shard) DO UPDATE SET count = excluded.count"
)
_INCREMENT = (
    "INSERT INTO signature_count (petition, shard, count) VALUES ({}, {}, {}) "
    "ON CONFLICT (petition, shard) DO UPDATE SET count = signature_count.count + excluded.count"
)


async def add(petition_id: int, amount: int = 1) -> None:
    """Add to the petition's count (negative to subtract). Call inside the signing transaction."""
    await SignatureCount.raw(_INCREMENT, petition_id, random.randrange(SHARDS), amount)


async def total(petition_id: int) -> int:
    rows = await SignatureCount.raw(
        "SELECT COALESCE(SUM(count), 0) AS n FROM signature_count WHERE petition = {}", petition_id
    )
    return int(rows[0]["n"])


async def local_signatures(petition_id: int) -> int:
    """Signatures collected on this node (every shard but the external one)."""
    rows = await SignatureCount.raw(
        "SELECT COALESCE(SUM(count), 0) AS n FROM signature_count WHERE petition = {} AND shard != {}",
        petition_id,
        EXTERNAL_SHARD,
    )
    return int(rows[0]["n"])


async def set_external_signatures(petition_id: int, count: int) -> int:
    """Set the signatures counted elsewhere (replacing the previous figure, never adding to
    it, so a repeated report cannot inflate the total) and refresh the petition's materialised
    total. Returns the new total."""
    if count < 0:
        raise ValueError(f"an external signature count cannot be negative, got {count}")
    await SignatureCount.raw(_SET_EXTERNAL, petition_id, EXTERNAL_SHARD, count)
    new_total = await total(petition_id)
    await Petition.update({Petition.signature_count: new_total}).where(Petition.id == petition_id)
    return new_total


async def totals(petition_ids: Iterable[int]) -> dict[int, int]:
    ids = list(petition_ids)
    if not ids:
        return {}
    rows = await SignatureCount.select(SignatureCount.petition, SignatureCount.count).where(
        SignatureCount.petition.is_in(ids)
    )
    sums = dict.fromkeys(ids, 0)
    for row in rows:
        sums[row["petition"]] += row["count"]
    return sums
