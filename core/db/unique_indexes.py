"""Multi-column (unique) indexes, created by raw migration steps.

Piccolo's `Unique` constraint is added with ALTER TABLE … ADD CONSTRAINT, which SQLite does not
support. A unique index does the same job on both databases, and `INSERT … ON CONFLICT (a, b)`
accepts it as the conflict target.
"""

from __future__ import annotations

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from core.db.engine import database


def add_unique_index(manager: MigrationManager, table: str, columns: tuple[str, ...]) -> None:
    _add_index(manager, table, columns, unique=True)


def add_index(manager: MigrationManager, table: str, columns: tuple[str, ...]) -> None:
    """A plain multi-column index, for queries that filter on one column and sort or range
    over another (Piccolo's `index=True` covers single columns only)."""
    _add_index(manager, table, columns, unique=False)


def _add_index(manager: MigrationManager, table: str, columns: tuple[str, ...], *, unique: bool) -> None:
    name = f"{table}_{'unique' if unique else 'index'}_{'_'.join(columns)}"
    column_list = ", ".join(f'"{c}"' for c in columns)
    kind = "UNIQUE INDEX" if unique else "INDEX"

    async def forwards() -> None:
        await database().run_ddl(f'CREATE {kind} IF NOT EXISTS "{name}" ON "{table}" ({column_list})')

    async def backwards() -> None:
        await database().run_ddl(f'DROP INDEX IF EXISTS "{name}"')

    manager.add_raw(forwards)
    manager.add_raw_backwards(backwards)
