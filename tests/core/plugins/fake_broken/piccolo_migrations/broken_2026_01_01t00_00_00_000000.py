from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-01-01T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Refers to a table that does not exist, as a botched migration would."


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="broken", description=DESCRIPTION)

    async def fail() -> None:
        await engine_finder().run_ddl("UPDATE broken_missing_table SET flag = 1")

    manager.add_raw(fail)
    return manager
