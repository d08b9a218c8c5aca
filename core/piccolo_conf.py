"""Piccolo's configuration module (PICCOLO_CONF points here).

Piccolo finds the engine and the apps through this module, for the CLI as well as at run time,
so the engine is built from the same validated settings the instance uses.
"""

from piccolo.conf.apps import AppRegistry

from core.db.engine import engine_for
from core.settings import current_settings

DB = engine_for(current_settings().database_url)


def _plugin_apps() -> list[str]:
    """Enabled plugins' Piccolo apps, so `piccolo migrations new <plugin> --auto` works for
    their authors. The host has already imported and checked each, so none can break this."""
    from core.plugins.host import loadable_plugins

    return [p.piccolo_app for p in loadable_plugins() if p.piccolo_app]


APP_REGISTRY = AppRegistry(apps=["core.piccolo_app", *_plugin_apps()])
