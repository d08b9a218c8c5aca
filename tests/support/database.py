"""Schema set-up once per session, and emptying tables between tests."""

from __future__ import annotations

from core.db import migrate
from core.piccolo_app import APP_CONFIG

_migrated = False


async def migrate_once() -> None:
    global _migrated
    if not _migrated:
        await migrate()
        _migrated = True


async def clean_database() -> None:
    from core.plugins.migrations import plugin_table_classes

    # Children before parents, so foreign keys never object: plugins' tables (which may refer
    # to core's) first.
    for table in [*reversed(plugin_table_classes()), *reversed(APP_CONFIG.table_classes)]:
        await table.delete(force=True)
