"""Core's Piccolo app: its tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.accounts.tables import ApiToken, Login, LoginLink, WebSession
from core.outbox.tables import OutboxItem
from core.people.tables import Person

APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Person, Login, LoginLink, WebSession, ApiToken, OutboxItem],
    migration_dependencies=[],
    commands=[],
)
