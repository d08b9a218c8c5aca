"""After signing a petition: upcoming events for that petition, or else near the signer.

Shown only when there is something to offer (a panel that says "no events" is noise on a
thank-you page). Nearby means within 25 miles of the signer's ZIP code, if they gave one.
"""

from __future__ import annotations

from core.plugin_api import ActionContext, ActionPanel, UserError
from plugins.events.display import place_text, when_text
from plugins.events.geo import DEFAULT_RADIUS_MILES, locate, normalize_zip
from plugins.events.service import events_for_petition, events_near
from plugins.events.tables import Event

LIMIT = 3


def _item(event: Event, miles: float | None = None) -> dict:
    return {
        "id": event.id,
        "title": event.title,
        "when": when_text(event.starts_at, event.ends_at, event.timezone),
        "place": place_text(event),
        "miles": miles,
    }


async def upcoming_events_panel(context: ActionContext) -> ActionPanel | None:
    if context.petition.status not in ("published", "closed", "delivered"):
        return None
    linked = await events_for_petition(context.petition.id, limit=LIMIT)
    if linked:
        return ActionPanel(
            title="Join an event for this petition",
            template="events/panel.html",
            context={"events": [_item(e) for e in linked], "nearby": False},
        )
    postal_code = context.person.postal_code if context.person is not None else ""
    if not postal_code or normalize_zip(postal_code) is None:
        return None
    try:
        place = locate(postal_code)
    except UserError:
        return None
    near = await events_near(place, DEFAULT_RADIUS_MILES, limit=LIMIT)
    if not near:
        return None
    return ActionPanel(
        title="Events near you",
        template="events/panel.html",
        context={
            "events": [_item(n.event, n.miles) for n in near],
            "nearby": True,
            "postal_code": place.postal_code,
        },
    )
