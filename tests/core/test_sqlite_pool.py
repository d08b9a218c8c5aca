"""The pooled SQLite engine under contention: more writers than pooled connections, mixing
transactions and single statements, all finish (no deadlock) and all writes land."""

import asyncio
import contextlib

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


def _write_lock_is_free(path: str) -> bool:
    """Whether another connection can take SQLite's write lock within a second."""
    import sqlite3

    probe = sqlite3.connect(path, timeout=1.0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


async def test_a_statement_cancelled_midway_never_leaves_the_write_lock_held():
    """A task stopped at shutdown (the outbox sweeper) may be cancelled while its INSERT …
    RETURNING runs on the connection's thread; the statement must not keep the lock after."""
    engine = database()
    if not isinstance(engine, PooledSQLiteEngine):
        pytest.skip("the pooled engine is SQLite's")
    path = engine.connection_kwargs["database"]
    for ticks in range(12):  # cancel at each point of the statement's way through the pool
        task = asyncio.create_task(Tag.insert(Tag(name=f"cancelled-{ticks}")).returning(Tag.id).run())
        for _ in range(ticks):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.01)  # a discarded connection closes on its own thread
        assert await asyncio.to_thread(_write_lock_is_free, path), f"lock held after cancel at tick {ticks}"


async def test_a_transaction_cancelled_while_beginning_or_committing_never_leaves_the_lock_held():
    engine = database()
    if not isinstance(engine, PooledSQLiteEngine):
        pytest.skip("the pooled engine is SQLite's")
    path = engine.connection_kwargs["database"]

    async def write() -> None:
        async with write_transaction():
            await Tag.insert(Tag(name="in-a-transaction")).returning(Tag.id)

    for ticks in range(16):
        task = asyncio.create_task(write())
        for _ in range(ticks):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.01)
        assert await asyncio.to_thread(_write_lock_is_free, path), f"lock held after cancel at tick {ticks}"
