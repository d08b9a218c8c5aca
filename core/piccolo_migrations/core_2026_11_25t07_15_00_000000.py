from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from core.db.unique_indexes import add_index, add_unique_index

ID = "2026-11-25T07:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Boost indexes: one stage per number per boost, a boost's log in order."


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    add_unique_index(manager, "boost_stage", ("boost", "number"))
    add_index(manager, "boost_decision_log", ("boost", "id"))
    return manager
