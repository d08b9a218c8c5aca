"""One attendance per person and event: RSVPing again updates it.

A unique index over two columns, which Piccolo's table classes cannot declare; a migration of
its own because Piccolo runs a migration's raw steps before the tables it adds."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-25T06:57:26:000000"
VERSION = "1.38.0"
DESCRIPTION = "A unique index on events_attendance (event, person)."

INDEX = "events_attendance_unique_event_person"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="events", description=DESCRIPTION)

    async def create_index() -> None:
        await engine_finder().run_ddl(
            f'CREATE UNIQUE INDEX IF NOT EXISTS "{INDEX}" ON "events_attendance" ("event", "person")'
        )

    async def drop_index() -> None:
        await engine_finder().run_ddl(f'DROP INDEX IF EXISTS "{INDEX}"')

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
