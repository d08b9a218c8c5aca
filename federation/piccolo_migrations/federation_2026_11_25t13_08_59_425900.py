from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T13:08:59:425900"
VERSION = "1.38.0"
DESCRIPTION = ""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="federation", description=DESCRIPTION)

    manager.drop_column(
        table_class_name="FederationCopy",
        tablename="federation_copy",
        column_name="counts_sequence",
        db_column_name="counts_sequence",
        schema=None,
    )

    return manager
