"""The pooled SQLite engine under contention: more writers than pooled connections, mixing
transactions and single statements, all finish (no deadlock) and all writes land."""

import asyncio

import pytest

from core.db import database, write_transaction
from core.db.sqlite_pool import POOL_SIZE, PooledSQLiteEngine
from core.people.tables import Tag


async def test_many_transactions_and_single_writes_at_once_all_complete():
    if not isinstance(database(), PooledSQLiteEngine):
        pytest.skip("the pooled engine is SQLite's")

    async def in_transaction(i: int) -> None:
        async with write_transaction():
            await Tag.insert(Tag(name=f"tx-{i}"))
            await asyncio.sleep(0.005)

    async def single_statement(i: int) -> None:
        await Tag.insert(Tag(name=f"single-{i}"))

    tasks = [in_transaction(i) for i in range(POOL_SIZE * 3)]
    tasks += [single_statement(i) for i in range(POOL_SIZE * 3)]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    assert await Tag.count() == POOL_SIZE * 6


async def test_a_failed_transaction_returns_its_connection_clean():
    if not isinstance(database(), PooledSQLiteEngine):
        pytest.skip("the pooled engine is SQLite's")
    for _ in range(POOL_SIZE + 2):
        with pytest.raises(RuntimeError):
            async with write_transaction():
                await Tag.insert(Tag(name="rolled-back"))
                raise RuntimeError("abandon")
    assert await Tag.count() == 0
