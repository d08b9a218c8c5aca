"""Events: creating, changing, moderating and cancelling them, and finding them.

Who may do what is decided here, once, for pages and the API alike: any signed-in member may
host (a member's event waits for staff when `member_events_need_approval` is on); the host,
leaders and staff manage an event; staff moderate. Attendees hear about every change of time,
place or status through `notices`, queued in the same transaction as the change, in which
the event's public listing is also announced to core (`listing.announce`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from core.plugin_api import (
    Forbidden,
    Group,
    NotFound,
    UserError,
    Viewer,
    get_petition_by_slug,
    leads_group,
    plugin_config,
    targets_of,
    transaction,
)
from plugins.events import listing, notices
from plugins.events.display import aware
from plugins.events.geo import Place, bounding_box, distance_miles
from plugins.events.rsvp import lock_event, promote_waitlist
from plugins.events.tables import Event
from plugins.events.validation import CleanEvent, EventInput, clean_event

MAX_ID = 2**31 - 1
# Changing one of these is a "reschedule": attendees are told, calendars get a new SEQUENCE.
_MATERIAL = ("starts_at", "ends_at", "timezone", "venue", "address", "locality", "postal_code", "online_url")
PUBLIC_PETITION_STATUSES = ("published", "closed", "delivered")


def _config(name: str, default: Any) -> Any:
    try:
        return plugin_config("events").get(name, default)
    except LookupError:
        return default


async def needs_approval(viewer: Viewer, group_id: int | None) -> bool:
    """Members' events wait for staff (unless the operator turned that off), and so does a
    leader's event in the name of a group they do not lead: that group's leaders never
    agreed to it. Staff, and leaders for their own groups or for no group, publish at once."""
    if not _config("member_events_need_approval", True) or viewer.has_role("staff"):
        return False
    if not viewer.has_role("leader"):
        return True
    return group_id is not None and not await leads_group(viewer, group_id)


async def may_manage(event: Event, viewer: Viewer | None) -> bool:
    """The host, staff, or a leader of the event's group. Attendee lists are member data, so
    a leader of one Council does not manage another Council's events (nor a member's event
    that names no group)."""
    if viewer is None:
        return False
    return event.host == viewer.person_id or await leads_group(viewer, event.group)


async def ensure_may_manage(event: Event, viewer: Viewer | None) -> None:
    if not await may_manage(event, viewer):
        raise Forbidden("Only the event's host, its group's leaders and staff can manage this event.")


async def get_event(event_id: int) -> Event:
    event = None
    if 1 <= event_id <= MAX_ID:
        event = await Event.objects().where(Event.id == event_id).first()
    if event is None:
        raise NotFound("There is no such event. It may have been removed; check the link.")
    return event


async def visible_event(event_id: int, viewer: Viewer | None) -> Event:
    """An event as `viewer` may see it: pending and rejected ones only by who may manage them."""
    event = await get_event(event_id)
    if event.status in ("pending", "rejected") and not await may_manage(event, viewer):
        raise NotFound("There is no such event. It may still be waiting for approval; check the link.")
    return event


@dataclass(frozen=True)
class Links:
    """What an event refers to, resolved and checked."""

    group_id: int | None
    petition_id: int | None
    target_name: str


async def _links(clean: CleanEvent) -> Links:
    group_id = None
    if clean.group_id is not None:
        if not await Group.exists().where(Group.id == clean.group_id):
            raise UserError("That group does not exist; choose one from the list.")
        group_id = clean.group_id
    petition_id, target = None, clean.target_name
    if clean.petition_slug:
        try:
            petition = await get_petition_by_slug(clean.petition_slug.rsplit("/", 1)[-1])
        except NotFound:
            raise UserError(
                f"There is no petition at {clean.petition_slug[:120]!r}; give its address."
            ) from None
        if petition.status not in PUBLIC_PETITION_STATUSES:
            raise UserError("Only a published petition can be linked to an event.")
        petition_id = petition.id
        names = [t.name for t in await targets_of(petition.id)]
        if target and target not in names:
            raise UserError(f"The petition's targets are: {', '.join(names)}. Choose one of them.")
        if not target and clean.kind == "petition_delivery" and names:
            target = names[0]
    elif target:
        raise UserError("A target belongs to a petition: give the petition too, or leave the target empty.")
    return Links(group_id, petition_id, target)


def _values(clean: CleanEvent, links: Links) -> dict[str, Any]:
    values = {f.name: getattr(clean, f.name) for f in fields(CleanEvent)}
    for name in ("group_id", "petition_slug"):
        values.pop(name)
    values.update(group=links.group_id, petition=links.petition_id, target_name=links.target_name)
    return values


async def create_event(data: EventInput, viewer: Viewer) -> Event:
    clean = clean_event(data)
    links = await _links(clean)
    values = _values(clean, links)
    values["host_email"] = values["host_email"] or viewer.email
    status = "pending" if await needs_approval(viewer, links.group_id) else "published"
    async with transaction():
        rows = await Event.insert(Event(**values, status=status, host=viewer.person_id)).returning(Event.id)
        await listing.announce(rows[0]["id"])
    return await get_event(rows[0]["id"])


async def update_event(event_id: int, data: EventInput, viewer: Viewer) -> Event:
    """Edit or reschedule. A new time or place tells everyone going or waitlisted; a larger
    (or removed) capacity moves people in from the waitlist."""
    event = await get_event(event_id)
    await ensure_may_manage(event, viewer)
    if event.status in ("cancelled", "rejected"):
        raise UserError(f"This event was {event.status}; it can no longer be changed.")
    clean = clean_event(data, allow_past=True)
    now = datetime.now(UTC)
    if clean.starts_at != aware(event.starts_at) and clean.starts_at < now:
        raise UserError("The new start is in the past. Choose a time that is still to come.")
    links = await _links(clean)
    if (
        links.group_id != event.group
        and event.status == "published"
        and await needs_approval(viewer, links.group_id)
    ):
        raise Forbidden(
            "A published event moves to another group only with that group's leaders or staff: "
            "ask them to make the change, or keep the group it has."
        )
    values = _values(clean, links)
    values["host_email"] = values["host_email"] or event.host_email
    material = any(_differs(getattr(event, name), values[name]) for name in _MATERIAL)
    async with transaction():
        event = await lock_event(event_id)
        version = event.version + 1 if material else event.version
        await Event.update(
            {getattr(Event, k): v for k, v in values.items()}
            | {Event.version: version, Event.updated_at: now}
        ).where(Event.id == event_id)
        event = await get_event(event_id)
        if material and event.status == "published":
            for to in await notices.recipients(event_id):
                await notices.changed(to, event)
        await promote_waitlist(event)
        await listing.announce(event_id)
    return event


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        return aware(old) != aware(new)
    return old != new


async def cancel_event(event_id: int, viewer: Viewer, reason: str = "") -> Event:
    event = await get_event(event_id)
    await ensure_may_manage(event, viewer)
    reason = " ".join(reason.split())
    if len(reason) > 1000:
        raise UserError("The reason is too long (at most 1,000 characters).")
    if event.status == "cancelled":
        return event
    async with transaction():
        event = await lock_event(event_id)
        was_published = event.status == "published"
        await Event.update(
            {
                Event.status: "cancelled",
                Event.status_reason: reason,
                Event.version: event.version + 1,
                Event.updated_at: datetime.now(UTC),
            }
        ).where(Event.id == event_id)
        event = await get_event(event_id)
        if was_published:
            for to in await notices.recipients(event_id):
                await notices.cancelled(to, event, reason=reason)
        await listing.announce(event_id)
    return event


async def moderate_event(event_id: int, viewer: Viewer, *, approve: bool, reason: str = "") -> Event:
    if not viewer.has_role("staff"):
        raise Forbidden("Only staff can approve or reject events.")
    event = await get_event(event_id)
    if event.status != "pending":
        raise UserError(f"This event is {event.status}, not waiting for approval.")
    async with transaction():
        await Event.update(
            {
                Event.status: "published" if approve else "rejected",
                Event.status_reason: " ".join(reason.split())[:1000],
                Event.updated_at: datetime.now(UTC),
            }
        ).where(Event.id == event_id)
        await listing.announce(event_id)
    return await get_event(event_id)


# --- finding events --------------------------------------------------------------------------


def _listed(now: datetime) -> Any:
    return (Event.status == "published") & (Event.visibility == "public") & (Event.ends_at > now)


async def upcoming_events(*, limit: int = 50, offset: int = 0, now: datetime | None = None) -> list[Event]:
    now = now or datetime.now(UTC)
    return await Event.objects().where(_listed(now)).order_by(Event.starts_at).limit(limit).offset(offset)


@dataclass(frozen=True)
class Nearby:
    event: Event
    miles: float


async def events_near(
    place: Place, radius_miles: int, *, limit: int = 50, now: datetime | None = None
) -> list[Nearby]:
    """Listed upcoming events within the radius, nearest first (then soonest)."""
    now = now or datetime.now(UTC)
    min_lat, max_lat, min_lon, max_lon = bounding_box(place.latitude, place.longitude, radius_miles)
    candidates = await Event.objects().where(
        _listed(now)
        & (Event.latitude >= min_lat)
        & (Event.latitude <= max_lat)
        & (Event.longitude >= min_lon)
        & (Event.longitude <= max_lon)
    )
    found = []
    for event in candidates:
        miles = distance_miles(place.latitude, place.longitude, event.latitude, event.longitude)
        if miles <= radius_miles:
            found.append(Nearby(event, miles))
    found.sort(key=lambda n: (round(n.miles, 1), aware(n.event.starts_at)))
    return found[:limit]


async def events_for_petition(petition_id: int, *, limit: int = 3) -> list[Event]:
    now = datetime.now(UTC)
    return (
        await Event.objects()
        .where(_listed(now) & (Event.petition == petition_id))
        .order_by(Event.starts_at)
        .limit(limit)
    )


async def group_feed_events(group_id: int) -> list[Event]:
    """A group's public events for its calendar feed: upcoming and the last 90 days, cancelled
    ones included so subscribed calendars drop them."""
    since = datetime.now(UTC) - timedelta(days=90)
    return (
        await Event.objects()
        .where(
            (Event.group == group_id)
            & (Event.visibility == "public")
            & Event.status.is_in(["published", "cancelled"])
            & (Event.ends_at > since)
        )
        .order_by(Event.starts_at)
        .limit(1000)
    )


async def hosted_by(person_id: int) -> list[Event]:
    return (
        await Event.objects()
        .where(Event.host == person_id)
        .order_by(Event.starts_at, ascending=False)
        .limit(200)
    )


async def pending_events() -> list[Event]:
    return await Event.objects().where(Event.status == "pending").order_by(Event.created_at).limit(200)


async def group_by_slug(slug: str) -> dict[str, Any]:
    group = await Group.select(Group.id, Group.slug, Group.name).where(Group.slug == slug[:80]).first()
    if group is None:
        raise NotFound("There is no group at this address.")
    return group
