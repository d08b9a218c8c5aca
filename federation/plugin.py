"""Federation as a first-party plugin: it reaches core only through `core.plugin_api`
(routes, templates, tables, outbox handlers, core events, CLI commands), so core never
imports it and an instance runs unchanged without it."""

from __future__ import annotations

from pathlib import Path

from core.plugin_api import NavItem, Plugin, Routes, instance_settings
from federation.cli import federation
from federation.listing_publishing import on_listing_changed
from federation.listing_web import directory_events, directory_groups
from federation.pooled_reach import register as register_reach_partners
from federation.publishing import on_petition_changed, on_petition_closed, on_signature
from federation.web import FederationAdmin, FederationApi, directory, well_known


def _nav() -> list[NavItem]:
    items = [NavItem(label="Federation", href="/admin/federation/", area="admin", role="admin")]
    try:
        hub = instance_settings().role == "hub"
    except ValueError:  # unusable settings: the command that runs reports them
        hub = False
    if hub:
        items.append(NavItem(label="Federation", href="/federation/directory", area="main"))
    return items


# The hub's instances become the boost engine's reach partners (used only while active).
register_reach_partners()

PLUGIN = Plugin(
    name="federation",
    version="1.0.0",
    requires_api="1.2",  # petition.taken_down, taken_down_here (1.2); listing.changed (1.1)
    title="Federation",
    description="Pairs this node with a hub; publishes petitions, counts, groups and events to it, signed.",
    piccolo_app="federation.piccolo_app",
    routes=[
        Routes(handlers=[well_known, FederationApi, directory]),
        Routes(handlers=[directory_groups, directory_events]),
        Routes(handlers=[FederationAdmin], role="admin"),
    ],
    templates_dir=Path(__file__).parent / "templates",
    task_modules=["federation.tasks", "federation.pooled_tasks"],
    nav_items=_nav(),
    events={
        "petition.published": on_petition_changed,
        "petition.updated": on_petition_changed,
        "petition.closed": on_petition_closed,
        "petition.delivered": on_petition_closed,
        "petition.taken_down": on_petition_closed,
        "signature.created": on_signature,
        "signature.confirmed": on_signature,
        "listing.changed": on_listing_changed,
    },
    commands=[federation],
)
