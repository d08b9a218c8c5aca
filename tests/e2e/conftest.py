"""End-to-end tests run `groundswell` as child processes, each with its own data dir and
database: the session database of tests/conftest.py is neither migrated nor emptied here."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _schema() -> None:
    """Every instance is a child process with its own database."""


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Nothing to empty in the session database."""
