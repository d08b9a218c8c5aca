"""Finding plugins and deciding, with a reason, which of them run.

Two stages, because some facts need the database and some code runs before there is one:

- at import time (`plugin_statuses()`): entry points in the `groundswell.plugins` group are
  loaded and checked — the declaration, the plugin API version, GROUNDSWELL_PLUGINS, the
  configuration against its schema, the Piccolo app. Piccolo's configuration, the CLI and the
  app factory use this.
- at start-up (`activate()`): an admin's "disable" switch and the plugin's migrations (a
  plugin whose tables are not migrated must not run) are applied.

A problem with one plugin disables that plugin with a one-line reason (shown by `groundswell
plugins list`, /admin/plugins and the log); it never stops the instance.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.plugins.config import PluginConfigError, load_config
from core.plugins.declaration import Plugin
from core.plugins.versioning import incompatibility

log = logging.getLogger("groundswell.plugins")

ENTRY_POINT_GROUP = "groundswell.plugins"

ENABLED, DISABLED, ERROR = "enabled", "disabled", "error"


@dataclass(frozen=True)
class PluginStatus:
    """One installed (or expected) plugin and whether it runs. `reason` is empty when enabled."""

    name: str
    status: str
    reason: str = ""
    version: str = ""
    requires_api: str = ""
    distribution: str = ""
    plugin: Plugin | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.status == ENABLED


@dataclass(frozen=True)
class Installed:
    """What an entry point gave: the loaded object, or the error loading it raised."""

    name: str
    loaded: object
    distribution: str = ""
    dist_version: str = ""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def installed_from_entry_points() -> list[Installed]:
    found = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        try:
            loaded: object = entry_point.load()
        except Exception as exc:  # any error in a plugin's import must not stop the instance
            loaded = exc
        found.append(
            Installed(
                name=entry_point.name,
                loaded=loaded,
                distribution=dist.name if dist else "",
                dist_version=dist.version if dist else "",
            )
        )
    return found


# The test seam: `installed_plugins()` swaps what counts as installed.
_source: Callable[[], list[Installed]] = installed_from_entry_points
_static: dict[str, PluginStatus] | None = None
_runtime: dict[str, PluginStatus] | None = None
# Problems found after the static checks (a failed migration, clashing routes), kept until reset.
_errors: dict[str, str] = {}


def _settings_plugins() -> tuple[str, ...] | None:
    from core.settings import current_settings

    return current_settings().plugins


def _data_dir() -> Any:
    from core.settings import current_settings

    return current_settings().data_dir


def _check_piccolo_app(plugin: Plugin) -> str | None:
    if plugin.piccolo_app is None:
        return None
    from piccolo.conf.apps import AppConfig

    try:
        module = importlib.import_module(plugin.piccolo_app)
    except Exception as exc:
        return f"its Piccolo app {plugin.piccolo_app} cannot be imported: {_one_line(exc)}"
    app_config = getattr(module, "APP_CONFIG", None)
    if not isinstance(app_config, AppConfig):
        return f"{plugin.piccolo_app} has no APP_CONFIG (a piccolo.conf.apps.AppConfig)"
    if app_config.app_name != plugin.name:
        return f"its Piccolo app is named {app_config.app_name!r}; it must be named {plugin.name!r}"
    for table in app_config.table_classes:
        if not table._meta.tablename.startswith(f"{plugin.name}_"):
            return f"table {table._meta.tablename!r} must be named {plugin.name}_… (plugins own a namespace)"
    return None


def _check(item: Installed, allowed: tuple[str, ...] | None) -> PluginStatus:
    base = PluginStatus(
        name=item.name, status=ERROR, distribution=item.distribution, version=item.dist_version
    )
    if isinstance(item.loaded, BaseException):
        return replace(base, reason=f"invalid manifest: {_one_line(item.loaded)}")
    if not isinstance(item.loaded, Plugin):
        return replace(
            base,
            reason=f"invalid manifest: the entry point gives a {type(item.loaded).__name__}, "
            "not a core.plugin_api.Plugin",
        )
    plugin = item.loaded
    base = replace(base, version=plugin.version, requires_api=plugin.requires_api, plugin=plugin)
    if plugin.name != item.name:
        return replace(
            base,
            reason=f"invalid manifest: the entry point is named {item.name!r} but the plugin {plugin.name!r}",
        )
    problem = incompatibility(plugin.requires_api)
    if problem:
        return replace(base, reason=problem)
    if allowed is not None and plugin.name not in allowed:
        return replace(base, status=DISABLED, reason="not listed in GROUNDSWELL_PLUGINS")
    try:
        config = load_config(_data_dir(), plugin.name, plugin.config_schema)
    except PluginConfigError as exc:
        return replace(base, reason=str(exc))
    problem = _check_piccolo_app(plugin)
    if problem:
        return replace(base, reason=problem)
    return replace(base, status=ENABLED, config=config)


def _resolve() -> dict[str, PluginStatus]:
    allowed = _settings_plugins()
    statuses: dict[str, PluginStatus] = {}
    for item in _source():
        if item.name in statuses:
            statuses[item.name] = replace(
                statuses[item.name],
                status=ERROR,
                reason=f"two installed packages declare a plugin named {item.name!r}; uninstall one",
            )
            continue
        statuses[item.name] = _check(item, allowed)
    for name in allowed or ():
        if name not in statuses:
            statuses[name] = PluginStatus(
                name=name, status=ERROR, reason="listed in GROUNDSWELL_PLUGINS but not installed"
            )
    for status in statuses.values():
        if status.status == ERROR:
            log.error("plugin %s disabled: %s", status.name, status.reason)
    return statuses


def _static_statuses() -> dict[str, PluginStatus]:
    global _static
    if _static is None:
        _static = _resolve()
    return _static


def _with_errors(statuses: dict[str, PluginStatus]) -> dict[str, PluginStatus]:
    return {
        name: replace(s, status=ERROR, reason=_errors[name]) if s.enabled and name in _errors else s
        for name, s in statuses.items()
    }


def plugin_statuses() -> list[PluginStatus]:
    """Every plugin this instance knows of, sorted by name, with its status and reason."""
    current = _runtime if _runtime is not None else _with_errors(_static_statuses())
    return [current[name] for name in sorted(current)]


def loadable_plugins() -> list[Plugin]:
    """Plugins that passed the checks made before the database is reached: their routes,
    templates and Piccolo apps are wired in (routes answer only while the plugin is active)."""
    return [s.plugin for s in _with_errors(_static_statuses()).values() if s.enabled and s.plugin]


def active_plugins() -> list[Plugin]:
    """Plugins that run now: every check passed, including the admin switch and migrations."""
    return [s.plugin for s in plugin_statuses() if s.enabled and s.plugin]


def active_plugin(name: str) -> Plugin | None:
    return next((p for p in active_plugins() if p.name == name), None)


def plugin_config(name: str) -> Mapping[str, Any]:
    """The validated configuration of an enabled plugin."""
    for status in plugin_statuses():
        if status.name == name:
            return status.config
    raise LookupError(f"no plugin named {name!r} is installed")


def record_error(name: str, reason: str) -> None:
    """Disable `name` for the rest of this process, saying why (logged once, here)."""
    global _runtime
    if _errors.get(name) == reason:
        return
    _errors[name] = reason
    log.error("plugin %s disabled: %s", name, reason)
    if _runtime is not None and name in _runtime and _runtime[name].enabled:
        _runtime[name] = replace(_runtime[name], status=ERROR, reason=reason)


def clear_error(name: str) -> None:
    _errors.pop(name, None)


async def activate() -> None:
    """Apply what needs the database: the admin's switches and each plugin's migrations."""
    global _runtime
    from core.plugins.migrations import pending_migrations
    from core.plugins.switches import disabled_by_admin

    statuses = _with_errors(_static_statuses())
    try:
        switched_off = await disabled_by_admin()
    except Exception as exc:  # the setting table may be missing before core's first migration
        log.warning("cannot read the plugin switches: %s", _one_line(exc))
        switched_off = set()
    for name, status in list(statuses.items()):
        if not status.enabled or status.plugin is None:
            continue
        if name in switched_off:
            statuses[name] = replace(status, status=DISABLED, reason="disabled by an admin (/admin/plugins)")
            continue
        try:
            pending = await pending_migrations(status.plugin)
        except Exception as exc:
            pending = [f"(cannot check: {_one_line(exc)})"]
        if pending:
            reason = (
                f"its migrations have not been applied ({', '.join(pending)}); "
                "run `groundswell migrate` and read its output"
            )
            log.error("plugin %s disabled: %s", name, reason)
            statuses[name] = replace(status, status=ERROR, reason=reason)
    _runtime = statuses


def reset() -> None:
    """Forget every decision, so the next call looks at installed plugins afresh."""
    global _static, _runtime
    _static = None
    _runtime = None
    _errors.clear()


@contextlib.contextmanager
def installed_plugins(plugins: Mapping[str, object] | Sequence[Plugin]) -> Iterator[None]:
    """Testing hook: pretend exactly these plugins are installed (entry-point name → what the
    entry point loads: a Plugin, any other object, or the exception its import raised)."""
    global _source
    items = (
        [Installed(name=p.name, loaded=p) for p in plugins]
        if not isinstance(plugins, Mapping)
        else [Installed(name=name, loaded=value) for name, value in plugins.items()]
    )
    previous = _source
    _source = lambda: list(items)  # noqa: E731
    reset()
    try:
        yield
    finally:
        _source = previous
        reset()
