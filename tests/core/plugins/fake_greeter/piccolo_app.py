from pathlib import Path

from piccolo.conf.apps import AppConfig

from tests.core.plugins.fake_greeter.tables import Greeting

APP_CONFIG = AppConfig(
    app_name="greeter",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Greeting],
    migration_dependencies=[],
    commands=[],
)
