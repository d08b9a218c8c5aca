"""The declaration, with a recorder the tests read: events received, tasks run."""

from __future__ import annotations

from pathlib import Path

import click
from litestar import Controller, get
from litestar.response import Template

from core.plugin_api import (
    ActionContext,
    ActionPanel,
    Event,
    NavItem,
    OsdiLink,
    Plugin,
    Routes,
    plugin_config,
)
from tests.core.plugins.fake_greeter.tables import Greeting

HERE = Path(__file__).parent
RECEIVED: list[Event] = []


class GreeterPages(Controller):
    path = "/plugins/greeter"
    include_in_schema = False

    @get("/")
    async def hello(self) -> Template:
        greetings = await Greeting.select(Greeting.text).order_by(Greeting.id)
        return Template(
            template_name="greeter/hello.html",
            context={"greeting": plugin_config("greeter").get("greeting", "Hello"), "greetings": greetings},
        )


class GreeterAdmin(Controller):
    path = "/plugins/greeter/admin"
    include_in_schema = False

    @get("/")
    async def settings(self) -> str:
        return "greeter settings"


async def on_signature(event: Event) -> None:
    RECEIVED.append(event)


async def call_panel(context: ActionContext) -> ActionPanel:
    return ActionPanel(
        title="Call your target", template="greeter/panel.html", context={"target": "the Mayor"}
    )


@click.command("greeter-hello")
def greeter_hello() -> None:
    """Say hello (a plugin's CLI command)."""
    click.echo("hello from greeter")


SCHEMA = {
    "type": "object",
    "properties": {"greeting": {"type": "string", "maxLength": 40}},
    "additionalProperties": False,
}


def greeter(**overrides: object) -> Plugin:
    """A fresh declaration; tests change single fields."""
    fields: dict[str, object] = {
        "name": "greeter",
        "version": "1.2.3",
        "requires_api": "1.0",
        "title": "Greeter",
        "config_schema": SCHEMA,
        "piccolo_app": "tests.core.plugins.fake_greeter.piccolo_app",
        "routes": [Routes(handlers=[GreeterPages]), Routes(handlers=[GreeterAdmin], role="admin")],
        "templates_dir": HERE / "templates",
        "static_dir": HERE / "static",
        "task_modules": ["tests.core.plugins.fake_greeter.tasks"],
        "nav_items": [
            NavItem(label="Greetings", href="/plugins/greeter/"),
            NavItem(label="Greeter settings", href="/plugins/greeter/admin/", area="admin", role="admin"),
        ],
        "action_panels": [call_panel],
        "osdi_links": [OsdiLink(rel="osdi:greetings", path="greetings", title="Greetings")],
        "events": {"signature.created": on_signature, "petition.published": on_signature},
        "commands": [greeter_hello],
    }
    fields.update(overrides)
    return Plugin(**fields)  # type: ignore[arg-type]
