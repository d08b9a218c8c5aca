"""Piccolo engines for the two supported databases.

SQLite is the embedded default: WAL so readers never block the writer, a busy timeout so
concurrent writers queue instead of failing, and foreign keys on (Piccolo enables them per
connection). PostgreSQL is for production and gets a connection pool when a server or
worker starts.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from core.db.sqlite_pool import PooledSQLiteEngine

SQLITE_BUSY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message says where and why."""


def redact(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


class _TunedSQLiteConnection(sqlite3.Connection):
    """Every connection Piccolo opens (it opens one per query) gets the same settings.
    synchronous=NORMAL is SQLite's recommendation for WAL: commits no longer wait for an fsync
    each, the database stays consistent after a crash, and only a power loss can cost the
    last moments of commits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA synchronous = NORMAL")


def engine_for(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # journal_mode is persistent in the file, so setting it once here is enough.
        with sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
        return PooledSQLiteEngine(
            path=str(path), timeout=SQLITE_BUSY_TIMEOUT_S, factory=_TunedSQLiteConnection
        )
    return PostgresEngine(config={"dsn": url, "timeout": CONNECT_TIMEOUT_S})


def write_transaction() -> Any:
    """A transaction that will write. On SQLite it takes the write lock up front (BEGIN
    IMMEDIATE): a deferred transaction that reads first and writes later can fail at once with
    "database is locked" instead of waiting its turn."""
    engine = database()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def _probe_sqlite(engine: SQLiteEngine) -> None:
    """Read the file through a new connection: pooled connections keep an old file open after
    it was replaced, and `SELECT 1` never reads the file at all; reading the schema table does
    (and works on a fresh, empty file too)."""
    path = engine.connection_kwargs["database"]
    connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=SQLITE_BUSY_TIMEOUT_S)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        connection.close()


def database() -> Engine:
    """The process's engine, as Piccolo finds it (through core.piccolo_conf)."""
    from core.piccolo_conf import DB

    return DB


async def check_database(timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise DatabaseUnavailable unless a trivial query answers within the timeout."""
    from core.settings import current_settings

    engine = database()
    where = redact(current_settings().database_url)
    try:
        if isinstance(engine, SQLiteEngine):
            await asyncio.wait_for(asyncio.to_thread(_probe_sqlite, engine), timeout=timeout)
        else:
            await asyncio.wait_for(engine.run_ddl("SELECT 1"), timeout=timeout)
    except TimeoutError:
        raise DatabaseUnavailable(f"database at {where} did not answer within {timeout:g}s") from None
    except Exception as exc:  # driver errors vary: OSError, asyncpg errors, sqlite3 errors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the database at {where}: {reason}") from None


async def start_pool() -> None:
    engine = database()
    if isinstance(engine, PostgresEngine) and engine.pool is None:
        await engine.start_connection_pool(min_size=1, max_size=10)


async def close_pool() -> None:
    engine = database()
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()
    elif isinstance(engine, PooledSQLiteEngine):
        await engine.close_connection_pool()


def ilike(column: Any, pattern: str) -> Any:
    """Case-insensitive LIKE on both databases: SQLite's LIKE already ignores ASCII case,
    and Piccolo warns on every `ilike` there."""
    return column.like(pattern) if isinstance(database(), SQLiteEngine) else column.ilike(pattern)
