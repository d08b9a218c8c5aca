"""Sharded signature counts: a signature increments one of SHARDS rows chosen at random, so
concurrent signers rarely wait on the same row lock; reading sums the shards."""

from __future__ import annotations

import random
from collections.abc import Iterable

from core.petitions.tables import SignatureCount

SHARDS = 16

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
