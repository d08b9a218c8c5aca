"""The plugin's Piccolo app: its tables and migrations, run by `groundswell migrate`."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from plugins.events.tables import Attendance, Event, EventMessage

APP_CONFIG = AppConfig(
    app_name="events",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Event, Attendance, EventMessage],
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
