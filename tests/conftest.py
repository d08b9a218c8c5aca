"""Test harness: every test session gets its own data dir and a fresh database.

SQLite by default; PostgreSQL when GROUNDSWELL_TEST_DATABASE_URL names a server database
(a fresh database named after it is created for the session and dropped afterwards).
The environment is set before `core` is imported, because one process serves one instance.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

_DATA_DIR = Path(tempfile.mkdtemp(prefix="groundswell-test-"))
_BASE_PG_URL = os.environ.get("GROUNDSWELL_TEST_DATABASE_URL", "").strip()
_PG_URL = ""
if _BASE_PG_URL:
    from tests.support.postgres import create_database

    _PG_URL = create_database(_BASE_PG_URL, f"gs_test_{os.getpid()}_{secrets.token_hex(3)}")

for name in [n for n in os.environ if n.startswith("GROUNDSWELL_") and not n.startswith("GROUNDSWELL_TEST_")]:
    del os.environ[name]
os.environ["GROUNDSWELL_DATA_DIR"] = str(_DATA_DIR)
os.environ["GROUNDSWELL_DATABASE_URL"] = _PG_URL or f"sqlite:///{_DATA_DIR / 'test.sqlite3'}"
os.environ["GROUNDSWELL_PUBLIC_URL"] = "http://testserver.local"
os.environ["GROUNDSWELL_LOG_LEVEL"] = "warning"

import core  # noqa: E402,F401  (sets PICCOLO_CONF)
from tests.support.database import clean_database, migrate_once  # noqa: E402

# Modules that each take about a minute or more (measured with --durations), longest first.
# They are dealt out to the xdist workers before everything else (pyproject's addopts turn off
# xdist's reordering by test count), so they overlap the many short tests instead of trailing
# them: the suite then takes about as long as its longest module, not that plus the rest.
LONGEST_FIRST = (
    "tests/e2e/test_federation_pooled_reach.py",
    "tests/e2e/test_federation.py",
    "tests/e2e/test_federation_offline.py",
    "tests/browser/test_events.py",
    "tests/e2e/test_federation_attacks.py",
    "tests/e2e/test_federation_relay.py",
    "tests/e2e/test_federation_listings.py",
    "tests/e2e/test_serve.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Leave nothing behind: the session's database and its data dir (every xdist worker, and
    the controller, made one of each)."""
    if _PG_URL:
        from tests.support.postgres import drop_database

        drop_database(_BASE_PG_URL, _PG_URL)
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _DATA_DIR


@pytest.fixture(scope="session")
def database_url() -> str:
    return os.environ["GROUNDSWELL_DATABASE_URL"]


@pytest.fixture(scope="session", autouse=True)
async def _schema() -> None:
    await migrate_once()


@pytest.fixture(autouse=True)
async def _clean(_schema: None) -> AsyncIterator[None]:
    """Each test starts from empty tables (the schema stays)."""
    await clean_database()
    yield


@pytest.fixture
async def app():
    from core.web.app import create_app

    return create_app()


@pytest.fixture
async def client(app) -> AsyncIterator:
    """An HTTP client for the app, with its lifespan (and in-process worker) running."""
    from tests.support.asgi import app_client

    async with app_client(app) as test_client:
        yield test_client
