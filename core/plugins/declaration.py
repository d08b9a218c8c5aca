"""What a plugin declares: one `Plugin` object, checked when it is made.

Every extension surface is a field here, so this file is the list of what a plugin may touch
(docs/plugins.md documents each, and a test checks that it does). A mistake in the
declaration raises `PluginDeclarationError` naming the field, which the host turns into
"plugin disabled: <reason>" instead of a crashed instance.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.accounts.roles import ROLES
from core.plugins.versioning import parse_api_version

if TYPE_CHECKING:
    from litestar import Request

    from core.people.tables import Person
    from core.petitions.tables import Petition

NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

# Core events a plugin can handle, with the keys of their payloads (docs/plugins.md shows
# examples). Additions are minor API changes; removing or renaming one is a major change.
EVENTS: dict[str, tuple[str, ...]] = {
    "petition.published": ("petition_id", "slug", "title", "group_id", "creator_id"),
    "petition.updated": ("petition_id", "slug", "title", "status", "version"),
    "petition.closed": ("petition_id", "slug", "title", "signature_count"),
    "petition.delivered": ("petition_id", "slug", "title", "signature_count"),
    "petition.taken_down": ("petition_id", "slug", "title", "version"),
    "signature.created": ("signature_id", "petition_id", "person_id", "status", "source"),
    "signature.confirmed": ("signature_id", "petition_id", "person_id", "via"),
    "person.created": ("person_id", "source"),
    "person.unsubscribed": ("person_id", "via"),
    "group.created": ("group_id", "slug", "name", "version"),
    "group.updated": ("group_id", "slug", "name", "version", "listed"),
    "listing.changed": ("kind", "local_id", "version", "listed", "fields"),
}

NAV_AREAS = ("main", "leader", "admin")


class PluginDeclarationError(ValueError):
    """The plugin's declaration is unusable; the message names the field and the fix."""


@dataclass(frozen=True)
class Event:
    """One core event, as a plugin's handler receives it. `key` is unique per occurrence:
    delivery is at-least-once, so a handler that must not act twice records the key."""

    name: str
    key: str
    data: Mapping[str, Any]
    occurred_at: datetime


EventHandler = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class Routes:
    """Litestar route handlers/controllers mounted under `path`, guarded by the least role
    they need (None: public). Keep to your own URL space, e.g. `/plugins/<name>/` or
    `/api/v1/<resource>`."""

    handlers: Sequence[Any]
    role: str | None = None
    path: str = "/"

    def __post_init__(self) -> None:
        if self.role is not None and self.role not in ROLES:
            raise PluginDeclarationError(f"routes: role must be None or one of {', '.join(ROLES)}")
        if not self.path.startswith("/"):
            raise PluginDeclarationError(f"routes: path must start with '/', got {self.path!r}")
        if not self.handlers:
            raise PluginDeclarationError("routes: handlers is empty")


@dataclass(frozen=True)
class NavItem:
    """A link in the site's main navigation, the leader dashboard or the admin menu,
    shown to viewers with at least `role` (None: everyone, signed in or not)."""

    label: str
    href: str
    area: str = "main"
    role: str | None = None

    def __post_init__(self) -> None:
        if self.area not in NAV_AREAS:
            raise PluginDeclarationError(
                f"nav item {self.label!r}: area must be one of {', '.join(NAV_AREAS)}"
            )
        if self.role is not None and self.role not in ROLES:
            raise PluginDeclarationError(f"nav item {self.label!r}: role must be None or one of {ROLES}")
        if not self.href.startswith(("/", "https://", "http://")):
            raise PluginDeclarationError(f"nav item {self.label!r}: href must be a path or an http(s) URL")


@dataclass(frozen=True)
class OsdiLink:
    """A resource added to the OSDI API entry point's `_links` (rel like "osdi:events",
    path relative to /api/v1/). The routes serving it are declared in `routes`."""

    rel: str
    path: str
    title: str = ""


@dataclass(frozen=True)
class ActionContext:
    """What an action panel provider knows after a member signed: the petition, the signer
    (None when the signature was not recorded as theirs, e.g. a bot trap), whether the
    signature is new, its status ("counted", "unconfirmed", "held") and the request."""

    petition: Petition
    person: Person | None
    created: bool
    status: str
    request: Request


@dataclass(frozen=True)
class ActionPanel:
    """One thing to offer after signing: a title and a template (found in the plugin's
    templates, a theme may override it) rendered with `context`."""

    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)


ActionPanelProvider = Callable[[ActionContext], Awaitable["ActionPanel | Sequence[ActionPanel] | None"]]


@dataclass(frozen=True)
class Plugin:
    """A plugin's declaration, exposed through the `groundswell.plugins` entry point.

    Only `name`, `version` and `requires_api` are required; everything else is optional.
    """

    name: str
    version: str
    requires_api: str
    title: str = ""
    description: str = ""
    config_schema: Mapping[str, Any] | None = None
    piccolo_app: str | None = None
    routes: Sequence[Routes] = ()
    templates_dir: str | Path | None = None
    static_dir: str | Path | None = None
    task_modules: Sequence[str] = ()
    nav_items: Sequence[NavItem] = ()
    action_panels: Sequence[ActionPanelProvider] = ()
    osdi_links: Sequence[OsdiLink] = ()
    events: Mapping[str, EventHandler] = field(default_factory=dict)
    commands: Sequence[Any] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise PluginDeclarationError(
                f"name must be 2-40 lowercase letters, digits or underscores, starting with a letter; "
                f"got {self.name!r}"
            )
        if not isinstance(self.version, str) or not self.version.strip():
            raise PluginDeclarationError(f"plugin {self.name}: version must be a non-empty string")
        try:
            parse_api_version(self.requires_api)
        except ValueError as exc:
            raise PluginDeclarationError(f"plugin {self.name}: {exc}") from None
        if self.config_schema is not None and not isinstance(self.config_schema, Mapping):
            raise PluginDeclarationError(f"plugin {self.name}: config_schema must be a JSON Schema object")
        unknown = sorted(set(self.events) - set(EVENTS))
        if unknown:
            raise PluginDeclarationError(
                f"plugin {self.name}: unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENTS)}"
            )
        for name, handler in self.events.items():
            if not callable(handler):
                raise PluginDeclarationError(f"plugin {self.name}: the handler for {name} is not callable")
        for kind, items, cls in (
            ("routes", self.routes, Routes),
            ("nav_items", self.nav_items, NavItem),
            ("osdi_links", self.osdi_links, OsdiLink),
        ):
            for item in items:
                if not isinstance(item, cls):
                    raise PluginDeclarationError(
                        f"plugin {self.name}: {kind} holds {item!r}, not a {cls.__name__}"
                    )
        for provider in self.action_panels:
            if not callable(provider):
                raise PluginDeclarationError(
                    f"plugin {self.name}: action panel provider {provider!r} is not callable"
                )
        for path_field in ("templates_dir", "static_dir"):
            value = getattr(self, path_field)
            if value is not None and not Path(value).is_dir():
                raise PluginDeclarationError(
                    f"plugin {self.name}: {path_field} {str(value)!r} is not a directory"
                )
