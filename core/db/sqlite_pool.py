"""A SQLite engine that keeps its connections and queues its writers.

Piccolo's SQLiteEngine opens a new connection — and with aiosqlite a new thread — for every
query outside a transaction and for every transaction: about 1.5 ms each here, ten times the
query itself. This engine keeps a few connections per event loop and lends them out; a lent
connection is returned on `close()`, which is where Piccolo ends its use of one.

SQLite allows one writer at a time, and a writer that finds the lock taken sleeps in SQLite's
busy handler (up to 100 ms a nap) while faster writers keep taking the lock: under load some
requests starve. So within a process, writers — write transactions (BEGIN IMMEDIATE) and
single write statements — queue on an asyncio lock instead, first come first served; only
writers from other processes still meet the busy handler.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

POOL_SIZE = 8


class _Pool:
    def __init__(self, engine: PooledSQLiteEngine, size: int) -> None:
        self.engine = engine
        self.idle: list[aiosqlite.Connection] = []
        self.slots = asyncio.Semaphore(size)

    async def _connect(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.engine.connection_kwargs)
        # aiosqlite runs each connection in a non-daemon thread: a pooled connection that is
        # never closed (its loop ended first) must not keep the process from exiting.
        connection._thread.daemon = True
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def acquire(self) -> _Lent:
        await self.slots.acquire()
        try:
            connection = self.idle.pop() if self.idle else await self._connect()
        except BaseException:
            self.slots.release()
            raise
        return _Lent(connection, self)

    async def release(self, connection: aiosqlite.Connection) -> None:
        try:
            if connection.in_transaction:  # abandoned mid-transaction (a cancelled task)
                await connection.rollback()
            self.idle.append(connection)
        except Exception:
            await _quietly_close(connection)
        finally:
            self.slots.release()

    async def discard(self, connection: aiosqlite.Connection) -> None:
        """Close a connection instead of reusing it: its state is unknown (a BEGIN or COMMIT
        was interrupted, and may still run on its thread). Closing rolls back whatever is open
        and is shielded, so a cancelled caller cannot leave it holding SQLite's write lock."""
        try:
            await asyncio.shield(_quietly_close(connection))
        finally:
            self.slots.release()

    async def close(self) -> None:
        while self.idle:
            await _quietly_close(self.idle.pop())


async def _quietly_close(connection: aiosqlite.Connection) -> None:
    try:
        await connection.close()
    except Exception:  # noqa: S110 - closing a broken connection; nothing to report
        pass


class _Lent:
    """A pooled connection as Piccolo sees it: everything passes through, close() returns it."""

    __slots__ = ("_connection", "_pool", "_returned")

    def __init__(self, connection: aiosqlite.Connection, pool: _Pool) -> None:
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_pool", pool)
        object.__setattr__(self, "_returned", False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._connection, name, value)

    async def close(self) -> None:
        if not self._returned:
            object.__setattr__(self, "_returned", True)
            await self._pool.release(self._connection)

    async def discard(self) -> None:
        if not self._returned:
            object.__setattr__(self, "_returned", True)
            await self._pool.discard(self._connection)


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "ALTER", "DROP", "WITH")


class _QueuedTransaction(SQLiteTransaction):
    """A transaction that, when it will write, first waits its turn on the process's lock.

    It also never lets a connection escape in an unknown state. Piccolo's transaction keeps
    the connection when BEGIN fails or is cancelled (its __aexit__ never runs) and when COMMIT
    raises; aiosqlite still runs the BEGIN on the connection's thread, so that connection then
    holds SQLite's write lock with nobody to release it, and every writer waits out the busy
    timeout. Here such a connection is closed (which rolls back), and the task's transaction
    context is reset whatever happens."""

    __slots__ = ("_turn",)

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            await self.begin()
        except BaseException:
            await self.connection.discard()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def begin(self) -> None:
        self._turn = None
        if self.transaction_type != TransactionType.deferred:
            self._turn = self.engine.writer_lock()
            await self._turn.acquire()
        try:
            await super().begin()
        except BaseException:
            self._release_turn()
            raise

    def _release_turn(self) -> None:
        turn, self._turn = getattr(self, "_turn", None), None
        if turn is not None:
            turn.release()

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent is not None:
            return exception is None
        try:
            if exception is not None:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException:
            await self.connection.discard()
            raise
        else:
            await self.connection.close()
        finally:
            self.engine.current_transaction.reset(self.context)
            self._release_turn()
        return exception is None


class _PerLoop:
    """The pool and writer lock of one event loop (asyncio primitives belong to one loop)."""

    def __init__(self, engine: PooledSQLiteEngine, size: int) -> None:
        self.pool = _Pool(engine, size)
        self.writer = asyncio.Lock()


class PooledSQLiteEngine(SQLiteEngine):
    def __init__(self, *args: Any, pool_size: int = POOL_SIZE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_size = pool_size
        self._loops: dict[asyncio.AbstractEventLoop, _PerLoop] = {}

    def _here(self) -> _PerLoop:
        loop = asyncio.get_running_loop()
        here = self._loops.get(loop)
        if here is None:
            self._loops = {lp: h for lp, h in self._loops.items() if not lp.is_closed()}
            here = self._loops[loop] = _PerLoop(self, self._pool_size)
        return here

    def _pool(self) -> _Pool:
        return self._here().pool

    def writer_lock(self) -> asyncio.Lock:
        return self._here().writer

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> SQLiteTransaction:
        return _QueuedTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def get_connection(self) -> Any:
        return await self._pool().acquire()

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        # Lock order everywhere: a pooled connection first, then the writer lock (transactions
        # do the same in __aenter__ then begin()); the other order deadlocks once every pooled
        # connection belongs to a transaction waiting for a writer that waits for a connection.
        writes = query.lstrip().upper().startswith(_WRITES)
        lent = await self._pool().acquire()
        try:
            if writes:
                await self.writer_lock().acquire()
            try:
                # Piccolo's connections are in autocommit mode (isolation_level=None), so a
                # statement outside a transaction commits by itself.
                return await self._run_in_existing_connection(lent, query, args, query_type, table)
            except asyncio.CancelledError:
                # Cancelled mid-statement (a task stopped at shutdown): the statement still runs
                # on the connection's thread, and one with RETURNING keeps its implicit
                # transaction — and the write lock — until its cursor is closed, which nobody
                # will do. Closing the connection (before the next writer's turn) ends it.
                await lent.discard()
                raise
            finally:
                if writes:
                    self.writer_lock().release()
        finally:
            await lent.close()

    async def close_connection_pool(self) -> None:
        here = self._loops.pop(asyncio.get_running_loop(), None)
        if here is not None:
            await here.pool.close()
