"""Wiring plugins into the web app: routes, templates, static files, navigation, action panels
and OSDI links.

Routes are mounted for every plugin that passed the start-up checks, because Litestar's
routes are fixed when the app is built, before the database is reached. Each plugin router
carries a guard that answers 404 while its plugin does not run (an admin switched it off, its
migrations failed), so the decision made at start-up with the database holds everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment
from litestar import Litestar, Request, Router
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.static_files import create_static_files_router

from core.plugins import host
from core.plugins.declaration import ActionContext, ActionPanel, NavItem, Plugin

log = logging.getLogger("groundswell.plugins")


def _running_guard(name: str):  # type: ignore[no-untyped-def]
    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if host.active_plugin(name) is None:
            raise NotFoundException("This page belongs to a plugin that is not enabled on this instance.")

    guard.__name__ = f"plugin_{name}_runs"
    return guard


def _plugin_routers(plugin: Plugin, theme_dir: Path | None) -> list[Any]:
    from core.web.auth import requires_role

    running = _running_guard(plugin.name)
    routers: list[Any] = [
        Router(
            path=group.path,
            route_handlers=list(group.handlers),
            guards=[running, requires_role(group.role)] if group.role else [running],
        )
        for group in plugin.routes
    ]
    static = [d for d in (_theme_static(theme_dir, plugin.name), plugin.static_dir) if d is not None]
    if static:
        routers.append(
            create_static_files_router(
                path=f"/plugins/{plugin.name}/static",
                directories=[Path(d) for d in static],
                include_in_schema=False,
                guards=[running],
            )
        )
    return routers


def _theme_static(theme_dir: Path | None, name: str) -> Path | None:
    """A theme overrides a plugin's static files in `<theme>/static/plugins/<name>/`."""
    if theme_dir is None:
        return None
    candidate = theme_dir / "static" / "plugins" / name
    return candidate if candidate.is_dir() else None


# Plugins whose routes were already checked against the same core handlers and the same
# earlier plugins: the check builds a whole bare app, which doubled the cost of every
# create_app (tests create hundreds).
_mountable: set[tuple[Any, ...]] = set()


def plugin_route_handlers(core_handlers: Sequence[Any], theme_dir: Path | None) -> list[Any]:
    """Routers for each loadable plugin. A plugin whose routes cannot be mounted (a malformed
    handler, a path core or an earlier plugin already answers) is disabled with the reason."""
    accepted: list[Any] = []
    accepted_names: list[str] = []
    core_ids = tuple(_shape(handler) for handler in core_handlers)
    for plugin in host.loadable_plugins():
        check = (id(plugin), plugin.name, core_ids, tuple(accepted_names), str(theme_dir))
        try:
            routers = _plugin_routers(plugin, theme_dir)
            if routers and check not in _mountable:
                # Building a bare app is how Litestar checks handlers and finds clashing paths;
                # without logging_config=None it would reconfigure logging (and start a queue
                # listener thread) on every check.
                Litestar(
                    route_handlers=[*core_handlers, *accepted, *routers],
                    openapi_config=None,
                    logging_config=None,
                )
                _mountable.add(check)
        except Exception as exc:
            host.record_error(plugin.name, f"its routes cannot be mounted: {exc}".splitlines()[0])
            continue
        accepted.extend(routers)
        accepted_names.append(plugin.name)
    return accepted


def _shape(handler: Any) -> Any:
    """What the clash check depends on: a router's paths, or the handler itself."""
    routes = getattr(handler, "routes", None)
    if isinstance(handler, Router) and routes is not None:
        return tuple(route.path for route in routes)
    return id(handler)


def plugin_template_dirs() -> list[Path]:
    """Searched after the theme's templates and before the default theme's, so a theme
    overrides a plugin's template by using the same path."""
    return [Path(p.templates_dir) for p in host.loadable_plugins() if p.templates_dir is not None]


def nav_items(area: str, viewer: Any = None) -> list[NavItem]:
    """Links running plugins add to `area` ("main", "leader", "admin") for this viewer."""
    items = []
    for plugin in host.active_plugins():
        for item in plugin.nav_items:
            if item.area != area:
                continue
            if item.role is not None and (viewer is None or not viewer.has_role(item.role)):
                continue
            items.append(item)
    return items


def template_globals() -> dict[str, Any]:
    return {"plugin_nav": nav_items}


def osdi_links() -> dict[str, dict[str, str]]:
    """Entry-point links of running plugins, e.g. {"osdi:events": {"href": …, "title": …}}."""
    from core.api.hal import link

    links: dict[str, dict[str, str]] = {}
    for plugin in host.active_plugins():
        for item in plugin.osdi_links:
            links[item.rel] = link(item.path, title=item.title or item.rel)
    return links


def _environment(request: Request) -> Environment:
    return request.app.template_engine.engine  # type: ignore[union-attr]


async def panels_after_signing(
    request: Request, petition: Any, person_id: int | None, *, created: bool, status: str
) -> list[str]:
    """The thank-you page's action panels (nothing to do, and no query, without providers)."""
    if not any(p.action_panels for p in host.active_plugins()):
        return []
    from core.people.tables import Person

    person = None
    if person_id is not None:
        person = await Person.objects().where(Person.id == person_id).first()
    return await action_panels(
        ActionContext(petition=petition, person=person, created=created, status=status, request=request)
    )


async def action_panels(context: ActionContext) -> list[str]:
    """Each running plugin's panels for someone who just signed, rendered. A provider or
    template that fails is logged and left out; the thank-you page always renders."""
    rendered: list[str] = []
    for plugin in host.active_plugins():
        for provider in plugin.action_panels:
            try:
                result = await provider(context)
                panels = [result] if isinstance(result, ActionPanel) else list(result or [])
                for panel in panels:
                    environment = _environment(context.request)
                    body = environment.get_template(panel.template).render(
                        **dict(panel.context), petition=context.petition, person=context.person
                    )
                    rendered.append(
                        environment.get_template("petitions/_action_panel.html").render(
                            plugin=plugin.name, title=panel.title, body=body
                        )
                    )
            except Exception:
                log.exception("action panel provider %r of plugin %s failed; left out", provider, plugin.name)
    return rendered
