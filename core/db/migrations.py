"""Apply core's and every enabled plugin's Piccolo migrations, idempotently."""

from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.commands.forwards import run_forwards


class MigrationFailed(RuntimeError):
    pass


async def migrate(verbose: bool = False) -> str:
    """Run all pending migrations; returns Piccolo's report of what ran."""
    from core.plugins.migrations import migrate_plugins

    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        result = await run_forwards(app_name="core")
        if not result.success:
            raise MigrationFailed(result.message or "migration failed")
        # A plugin's failing migration disables that plugin (with the reason) and never
        # stops core's or the other plugins'.
        await migrate_plugins()
    return report.getvalue()


async def pending_migrations() -> list[str]:
    """Ids of core's migrations not yet applied to this database. A plugin with pending
    migrations does not stop the instance: the plugin host disables it at start-up."""
    from piccolo.apps.migrations.commands.check import CheckMigrationManager

    statuses = await CheckMigrationManager("core").get_migration_statuses()
    return [f"{s.app_name}:{s.migration_id}" for s in statuses if not s.has_ran]
