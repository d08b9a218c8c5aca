"""The instance's database: one engine per process, chosen from GROUNDSWELL_DATABASE_URL."""

from core.db.engine import (
    DatabaseUnavailable,
    check_database,
    database,
    engine_for,
    write_transaction,
)
from core.db.migrations import MigrationFailed, migrate

__all__ = [
    "DatabaseUnavailable",
    "MigrationFailed",
    "check_database",
    "database",
    "engine_for",
    "migrate",
    "write_transaction",
]
