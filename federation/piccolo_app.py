"""Federation's Piccolo app: its tables and migrations (applied by `groundswell migrate`)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from federation.listing_tables import LISTING_TABLES
from federation.reach_tables import REACH_TABLES
from federation.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="federation",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[*TABLES, *LISTING_TABLES, *REACH_TABLES],
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
