"""Apply core's and every enabled plugin's Piccolo migrations, idempotently."""

from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.commands.forwards import run_forwards


class MigrationFailed(RuntimeError):
    pass


async def migrate(verbose: bool = False) -> str:
    """Run all pending migrations; returns Piccolo's report of what ran."""
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        result = await run_forwards(app_name="all")
    if not result.success:
        raise MigrationFailed(result.message or "migration failed")
    return report.getvalue()


async def pending_migrations() -> list[str]:
    """Ids of migrations (core and plugins) not yet applied to this database."""
    from piccolo.apps.migrations.commands.check import CheckMigrationManager

    statuses = await CheckMigrationManager("all").get_migration_statuses()
    return [f"{s.app_name}:{s.migration_id}" for s in statuses if not s.has_ran]
