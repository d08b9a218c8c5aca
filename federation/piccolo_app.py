"""Federation's Piccolo app: its tables and migrations (applied by `groundswell migrate`)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from federation.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="federation",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
