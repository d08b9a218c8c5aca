"""Schema set-up once per session, and emptying tables between tests."""

from __future__ import annotations

from core.db import migrate
from core.plugins.testing import empty_tables

_migrated = False


async def migrate_once() -> None:
    global _migrated
    if not _migrated:
        await migrate()
        _migrated = True


async def clean_database() -> None:
    await empty_tables()
