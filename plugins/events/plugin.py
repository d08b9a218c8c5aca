"""The events plugin's declaration: what it adds to a Groundswell instance.

Everything here comes from `core.plugin_api`, the surface any third-party plugin has; the
test `test_events_imports_only_the_plugin_api` keeps it that way.
"""

from pathlib import Path

from core.plugin_api import NavItem, OsdiLink, Plugin, Routes
from plugins.events.api import EventsApi
from plugins.events.host_pages import HostPages, ModerationPages
from plugins.events.pages import EventPages, MemberEventPages
from plugins.events.panels import upcoming_events_panel

HERE = Path(__file__).parent

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "member_events_need_approval": {
            "type": "boolean",
            "default": True,
            "description": (
                "Events hosted by members, and leaders' events for a group they do not lead, "
                "wait for staff approval."
            ),
        },
    },
    "additionalProperties": False,
}

PLUGIN = Plugin(
    name="events",
    version="1.0.0",
    requires_api="1.2",  # leads_group (1.2), announce_listing (1.1)
    title="Events",
    description="Rallies, house parties, deliveries and meetings: RSVPs, waitlists, reminders, calendars.",
    config_schema=CONFIG_SCHEMA,
    piccolo_app="plugins.events.piccolo_app",
    routes=[
        Routes(handlers=[EventPages]),
        Routes(handlers=[MemberEventPages, HostPages], role="member"),
        Routes(handlers=[ModerationPages], role="staff"),
        Routes(handlers=[EventsApi], role="member", path="/api/v1"),
    ],
    templates_dir=HERE / "templates",
    static_dir=HERE / "static",
    task_modules=["plugins.events.reminders"],
    nav_items=[
        NavItem(label="Events", href="/events"),
        NavItem(label="Events I host", href="/events/mine", area="leader", role="member"),
        NavItem(label="Event approvals", href="/events/moderation", area="admin", role="staff"),
    ],
    action_panels=[upcoming_events_panel],
    osdi_links=[OsdiLink(rel="osdi:events", path="events", title="The collection of events")],
)
