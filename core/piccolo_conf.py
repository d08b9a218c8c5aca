"""Piccolo's configuration module (PICCOLO_CONF points here).

Piccolo finds the engine and the apps through this module, for the CLI as well as at run time,
so the engine is built from the same validated settings the instance uses.
"""

from piccolo.conf.apps import AppRegistry

from core.db.engine import engine_for
from core.settings import current_settings

DB = engine_for(current_settings().database_url)

APP_REGISTRY = AppRegistry(apps=["core.piccolo_app"])
