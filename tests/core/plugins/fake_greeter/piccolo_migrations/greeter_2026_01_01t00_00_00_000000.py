from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar

ID = "2026-01-01T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "The greeter_greeting table."


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="greeter", description=DESCRIPTION)
    manager.add_table(class_name="Greeting", tablename="greeter_greeting")
    manager.add_column(
        table_class_name="Greeting",
        tablename="greeter_greeting",
        column_name="text",
        db_column_name="text",
        column_class_name="Varchar",
        column_class=Varchar,
        params={"length": 200, "default": "", "null": False},
    )
    return manager
