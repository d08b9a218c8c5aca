"""Pytest fixtures for plugin authors: a throwaway Groundswell instance running your plugin.

Enable it in your tests' top conftest.py (explicitly, so installing Groundswell never changes
other projects' test runs):

    pytest_plugins = ["core.plugins.testing"]

and name the plugins the instance runs in pytest's configuration (default: all installed):

    [tool.pytest.ini_options]
    groundswell_plugins = "my_plugin"
    asyncio_mode = "auto"
    asyncio_default_fixture_loop_scope = "session"
    asyncio_default_test_loop_scope = "session"

Each session gets a new data dir and database: SQLite, or a fresh PostgreSQL database
(dropped afterwards) when GROUNDSWELL_TEST_DATABASE_URL names a server. Any GROUNDSWELL_*
variables of the shell are ignored, so tests never touch a real instance's database.

Fixtures: `plugin_client` (an httpx client on the app, with the in-process worker running,
each test starting from empty tables), `groundswell_app`, `groundswell_database`.
Helpers: `wait_for_outbox`, `plugin_status`, `assert_only_plugin_api`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import pytest_asyncio

from core.plugins.import_rule import assert_only_plugin_api, forbidden_imports

__all__ = [
    "assert_only_plugin_api",
    "forbidden_imports",
    "plugin_status",
    "wait_for_outbox",
]

BASE_URL = "http://testserver.local"
_state: dict[str, Any] = {}


# --- the instance's environment, set before anything reads settings -------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "groundswell_plugins", "plugins the test instance runs (default: all installed)", default=""
    )


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _postgres(base_url: str, statement: str) -> None:
    import asyncpg

    async def go() -> None:
        connection = await asyncpg.connect(_with_database(base_url, "postgres"))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(go())


def pytest_configure(config: pytest.Config) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="groundswell-plugin-test-"))
    _state["data_dir"] = data_dir
    base_pg = os.environ.get("GROUNDSWELL_TEST_DATABASE_URL", "").strip()
    if base_pg:
        name = f"gs_plugin_test_{os.getpid()}_{secrets.token_hex(3)}"
        _postgres(base_pg, f'CREATE DATABASE "{name}"')
        _state["pg"] = (base_pg, name)
        database_url = _with_database(base_pg, name)
    else:
        database_url = f"sqlite:///{data_dir / 'test.sqlite3'}"
    for variable in [
        v for v in os.environ if v.startswith("GROUNDSWELL_") and not v.startswith("GROUNDSWELL_TEST_")
    ]:
        del os.environ[variable]
    os.environ.update(
        {
            "GROUNDSWELL_DATA_DIR": str(data_dir),
            "GROUNDSWELL_DATABASE_URL": database_url,
            "GROUNDSWELL_PUBLIC_URL": BASE_URL,
            "GROUNDSWELL_LOG_LEVEL": "warning",
        }
    )
    plugins = str(config.getini("groundswell_plugins")).strip()
    if plugins:
        os.environ["GROUNDSWELL_PLUGINS"] = plugins
    from core.settings import current_settings

    current_settings.cache_clear()


def pytest_unconfigure(config: pytest.Config) -> None:
    if "pg" in _state:
        base_pg, name = _state.pop("pg")
        with contextlib.suppress(Exception):
            _postgres(base_pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if "data_dir" in _state:
        shutil.rmtree(_state.pop("data_dir"), ignore_errors=True)


# --- helpers ---------------------------------------------------------------------------------


def plugin_status(name: str) -> Any:
    """The host's status for `name` (`.enabled`, `.status`, `.reason`, `.config`)."""
    from core.plugins.host import plugin_statuses

    for status in plugin_statuses():
        if status.name == name:
            return status
    raise AssertionError(f"no plugin named {name!r} is installed (is the package installed?)")


async def wait_for_outbox(timeout: float = 10.0, topic: str | None = None) -> None:
    """Until no outbox item (of `topic`) is pending or processing; AssertionError on timeout."""
    from core.outbox.tables import OutboxItem

    deadline = time.monotonic() + timeout
    while True:
        query = OutboxItem.count().where(OutboxItem.status.is_in(["pending", "processing"]))
        if topic:
            query = query.where(OutboxItem.topic == topic)
        if await query == 0:
            return
        if time.monotonic() > deadline:
            rows = await OutboxItem.select().where(OutboxItem.status != "done")
            raise AssertionError(f"outbox not drained after {timeout}s: {rows}")
        await asyncio.sleep(0.05)


async def empty_tables() -> None:
    """Empty every table (the schema stays): each test starts from nothing."""
    from core.piccolo_app import APP_CONFIG
    from core.plugins.migrations import plugin_table_classes

    # Children before parents: plugins' tables (which may refer to core's) first.
    for table in [*reversed(plugin_table_classes()), *reversed(APP_CONFIG.table_classes)]:
        await table.delete(force=True)


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run the app's lifespan on this event loop (a PostgreSQL pool belongs to one loop)."""
    to_app: asyncio.Queue = asyncio.Queue()
    from_app: asyncio.Queue = asyncio.Queue()

    async def receive() -> dict:
        return await to_app.get()

    async def send(message: dict) -> None:
        await from_app.put(message)

    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    )
    await to_app.put({"type": "lifespan.startup"})
    started = await from_app.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"app failed to start: {started}")
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await task


# --- fixtures --------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def groundswell_database() -> str:
    """Core's and the plugins' migrations, applied once per session; returns the report."""
    from core.db import migrate

    return await migrate()


@pytest_asyncio.fixture(loop_scope="session")
async def groundswell_app(groundswell_database: str) -> Any:
    """The instance's app (not started), on empty tables."""
    await empty_tables()
    from core.web.app import create_app

    return create_app()


@pytest_asyncio.fixture(loop_scope="session")
async def plugin_client(groundswell_app: Any) -> AsyncIterator[Any]:
    """A browser-like httpx client on the running app (lifespan and in-process worker)."""
    import httpx

    async with (
        lifespan(groundswell_app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=groundswell_app), base_url=BASE_URL, follow_redirects=True
        ) as client,
    ):
        yield client
