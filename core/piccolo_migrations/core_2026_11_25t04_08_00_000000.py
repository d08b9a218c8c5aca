from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from core.db.unique_indexes import add_unique_index

ID = "2026-11-25T04:08:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Unique indexes: one signature per person per petition, one row per counter shard, …"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    add_unique_index(manager, "tagging", ("tag", "person"))
    add_unique_index(manager, "group_leader", ("group", "login"))
    add_unique_index(manager, "signature", ("petition", "person"))
    add_unique_index(manager, "signature_count", ("petition", "shard"))
    return manager
