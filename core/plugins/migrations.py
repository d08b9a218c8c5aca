"""Each plugin's tables are its own Piccolo app, migrated after core's, one plugin at a time.

Migrations are run per app here rather than by Piccolo's "all": a plugin whose migration
fails is disabled with the reason and the others (and core) carry on, where "all" would stop
at the first failure.
"""

from __future__ import annotations

import importlib
import logging

from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from core.plugins import host
from core.plugins.declaration import Plugin

log = logging.getLogger("groundswell.plugins")


def app_config(plugin: Plugin) -> AppConfig | None:
    if plugin.piccolo_app is None:
        return None
    return importlib.import_module(plugin.piccolo_app).APP_CONFIG


async def pending_migrations(plugin: Plugin) -> list[str]:
    """Ids of the plugin's migrations not yet applied to this database."""
    config = app_config(plugin)
    if config is None:
        return []
    manager = BaseMigrationManager()
    ids = manager.get_migration_ids(manager.get_migration_modules(config.resolved_migrations_folder_path))
    if not ids:
        return []
    if not await Migration.table_exists():
        return ids
    ran = set(await Migration.get_migrations_which_ran(app_name=config.app_name))
    return [i for i in ids if i not in ran]


def _in_dependency_order(plugins: list[Plugin]) -> list[Plugin]:
    """Plugins whose apps depend on another plugin's app come after it."""
    by_module = {p.piccolo_app: p for p in plugins}
    ordered: list[Plugin] = []

    def visit(plugin: Plugin, seen: tuple[str, ...]) -> None:
        if plugin in ordered or plugin.name in seen:
            return
        config = app_config(plugin)
        for dependency in config.migration_dependencies if config else []:
            if dependency in by_module:
                visit(by_module[dependency], (*seen, plugin.name))
        ordered.append(plugin)

    for plugin in sorted(plugins, key=lambda p: p.name):
        visit(plugin, ())
    return ordered


async def migrate_plugins() -> None:
    """Apply the pending migrations of every plugin that may run (printing Piccolo's report);
    a failure disables that plugin with the reason instead of raising."""
    from core.plugins.switches import disabled_by_admin

    try:
        switched_off = await disabled_by_admin()
    except Exception:
        switched_off = set()
    plugins = [p for p in host.loadable_plugins() if p.piccolo_app and p.name not in switched_off]
    for plugin in _in_dependency_order(plugins):
        config = app_config(plugin)
        assert config is not None
        print(f"\nplugin {plugin.name}")
        manager = ForwardsMigrationManager(app_name=config.app_name)
        try:
            await manager.create_migration_table()
            result = await manager.run_migrations(config)
        except Exception as exc:  # a plugin's broken migration must not stop the instance
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            host.record_error(plugin.name, f"its migration failed: {type(exc).__name__}: {reason}")
            print(f"  failed: {type(exc).__name__}: {reason}")
            continue
        if not result.success:
            host.record_error(plugin.name, f"its migration failed: {result.message}")
            continue
        host.clear_error(plugin.name)


def plugin_table_classes() -> list[type[Table]]:
    """Tables of the plugins that run, parents before children (per plugin's declaration)."""
    tables: list[type[Table]] = []
    for plugin in host.active_plugins():
        config = app_config(plugin)
        if config is not None:
            tables.extend(config.table_classes)
    return tables
