"""Public event pages (list, near me, event page, RSVP, the attendee's own RSVP page, calendar
files) and the member pages to host an event. Handlers stay thin: parse, call the service,
render; a UserError re-renders the form with the message and the values kept."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.plugin_api import (
    Form,
    Group,
    NotFound,
    PersonInput,
    Petition,
    UserError,
    field,
    get_petition,
    get_petition_by_slug,
    targets_of,
    viewer_of,
)
from plugins.events import ical, rsvp, service
from plugins.events.display import kind_label, place_text, when_text
from plugins.events.forms import event_input
from plugins.events.geo import DEFAULT_RADIUS_MILES, RADII_MILES, check_radius, locate
from plugins.events.tables import KINDS, Event
from plugins.events.tokens import attendance_from_token
from plugins.events.validation import COMMON_TIME_ZONES

ICS = "text/calendar; charset=utf-8"


def card(event: Event, miles: float | None = None) -> dict[str, Any]:
    """What a list shows of an event (plain values; the template escapes them)."""
    return {
        "id": event.id,
        "title": event.title,
        "kind": kind_label(event.kind),
        "when": when_text(event.starts_at, event.ends_at, event.timezone),
        "place": place_text(event),
        "miles": miles,
        "status": event.status,
        "visibility": event.visibility,
    }


async def event_context(event: Event, request: Request, **extra: Any) -> dict[str, Any]:
    viewer = viewer_of(request)
    petition = await get_petition(event.petition) if event.petition else None
    group = None
    if event.group:
        group = await Group.select(Group.slug, Group.name).where(Group.id == event.group).first()
    seats = await rsvp.seats_taken(event.id)
    return {
        "event": event,
        "kind": kind_label(event.kind),
        "when": when_text(event.starts_at, event.ends_at, event.timezone),
        "place": place_text(event),
        "petition": petition,
        "group": group,
        "seats_taken": seats,
        "full": event.capacity is not None and seats >= event.capacity,
        "places_left": None if event.capacity is None else max(event.capacity - seats, 0),
        "may_manage": await service.may_manage(event, viewer),
        "google_link": ical.google_link(event),
        "outlook_link": ical.outlook_link(event),
        "values": {},
        "errors": [],
        **extra,
    }


def _person(data: dict[str, Any]) -> PersonInput:
    name = field(data, "name", max_length=200)
    if not name:
        raise UserError("Your name is required.")
    given, _, family = name.partition(" ")
    postal_code = field(data, "postal_code", max_length=20)
    return PersonInput(
        email=field(data, "email", max_length=320),
        given_name=given,
        family_name=family.strip(),
        postal_code=postal_code,
        source="event",
        consent_instance_email=bool(field(data, "keep_updated")),
    )


class EventPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/events")
    async def index(self, request: Request) -> Template:
        postal_code = request.query_params.get("postal_code", "").strip()[:20]
        radius_text = request.query_params.get("radius", "").strip()[:5]
        context: dict[str, Any] = {
            "postal_code": postal_code,
            "radius": DEFAULT_RADIUS_MILES,
            "radii": RADII_MILES,
            "errors": [],
            "near": None,
        }
        status = 200
        if postal_code or radius_text:
            try:
                context["radius"] = check_radius(radius_text)
                if not postal_code:
                    raise UserError("Type your ZIP code to find events near you.")
                place = locate(postal_code)
                near = await service.events_near(place, context["radius"])
                context["near"] = [card(n.event, n.miles) for n in near]
                context["place"] = place
            except UserError as exc:
                context["errors"] = [exc.message]
                status = 400
        context["events"] = [card(e) for e in await service.upcoming_events()]
        return Template(template_name="events/index.html", context=context, status_code=status)

    @get("/events/{ref:str}", media_type=MediaType.HTML)
    async def show(self, request: Request, ref: FromPath[str]) -> Any:
        """The event page, or its calendar file (`/events/12.ics`)."""
        number = ref.removesuffix(".ics")
        if not number.isdigit() or len(number) > 10:
            raise NotFound("There is no such event; check the link.")
        event = await service.visible_event(int(number), viewer_of(request))
        if ref.endswith(".ics"):
            return Response(
                content=ical.calendar([event], name=event.title),
                media_type=ICS,
                headers={"Content-Disposition": f'attachment; filename="event-{event.id}.ics"'},
            )
        return Template(template_name="events/show.html", context=await event_context(event, request))

    @post("/events/{event_id:int}/rsvp", status_code=200)
    async def rsvp(self, request: Request, event_id: FromPath[int], data: Form) -> Template:
        event = await service.visible_event(event_id, viewer_of(request))
        try:
            result = await rsvp.rsvp(event_id, _person(data), field(data, "guests", max_length=10) or 0)
        except UserError as exc:
            if exc.status_code == 404:
                raise
            context = await event_context(event, request, values=dict(data), errors=[exc.message])
            return Template(template_name="events/show.html", context=context, status_code=exc.status_code)
        return Template(
            template_name="events/rsvp_done.html",
            context={
                "event": event,
                "result": result,
                "when": when_text(event.starts_at, event.ends_at, event.timezone),
            },
        )

    @get("/events/rsvp/{token:str}")
    async def my_rsvp(self, token: FromPath[str], done: FromQuery[str] = "") -> Template:
        return await _rsvp_page(token, notice=done)

    @post("/events/rsvp/{token:str}/cancel", status_code=303)
    async def cancel_rsvp(self, token: FromPath[str]) -> Redirect:
        await rsvp.cancel_attendance(_attendance(token))
        return Redirect(path=f"/events/rsvp/{token}?done=cancelled", status_code=303)

    @post("/events/rsvp/{token:str}/mute", status_code=303, exclude_from_csrf=True)
    async def mute(self, token: FromPath[str]) -> Redirect:
        """Also the one-click List-Unsubscribe-Post target (RFC 8058): a mail client posts it
        without a session or CSRF token; the signed token is the authority, and muting is
        harmless to repeat."""
        await rsvp.mute_attendance(_attendance(token))
        return Redirect(path=f"/events/rsvp/{token}?done=muted", status_code=303)

    @get("/groups/{slug:str}/events.ics")
    async def group_feed(self, slug: FromPath[str]) -> Response[bytes]:
        group = await service.group_by_slug(slug)
        events = await service.group_feed_events(group["id"])
        return Response(content=ical.calendar(events, name=f"{group['name']} events"), media_type=ICS)


def _attendance(token: str) -> int:
    attendance_id = attendance_from_token(token)
    if attendance_id is None:
        raise NotFound(
            "This link is damaged or not from us. Use the link in your latest email about the event."
        )
    return attendance_id


async def _rsvp_page(token: str, *, notice: str = "") -> Template:
    status = await rsvp.attendance_status(_attendance(token))
    event = await service.get_event(status.event_id)
    return Template(
        template_name="events/my_rsvp.html",
        context={
            "event": event,
            "result": status,
            "token": token,
            "notice": notice if notice in ("cancelled", "muted") else "",
            "when": when_text(event.starts_at, event.ends_at, event.timezone),
            "place": place_text(event),
        },
    )


async def form_context(
    request: Request, values: dict[str, Any], errors: list[str], **extra: Any
) -> dict[str, Any]:
    slug = str(values.get("petition_slug") or "")
    targets: list[str] = []
    if slug:
        try:
            petition = await get_petition_by_slug(slug)
            targets = [t.name for t in await targets_of(petition.id)]
        except NotFound:
            targets = []
    petitions = (
        await Petition.select(Petition.slug, Petition.title)
        .where(Petition.status == "published")
        .order_by(Petition.published_at, ascending=False)
        .limit(100)
    )
    groups = await Group.select(Group.id, Group.name).order_by(Group.name).limit(500)
    return {
        "values": values,
        "errors": errors,
        "kinds": KINDS,
        "time_zones": COMMON_TIME_ZONES,
        "petitions": petitions,
        "targets": targets,
        "groups": groups,
        "viewer": viewer_of(request),
        **extra,
    }


class MemberEventPages(Controller):
    path = "/events"
    include_in_schema = False

    @get("/new")
    async def new(self, request: Request, petition: FromQuery[str] = "") -> Template:
        values = {"timezone": "America/New_York", "visibility": "public", "kind": "other"}
        if petition:
            values.update(petition_slug=petition[:120], kind="petition_delivery")
        context = await form_context(request, values, [], editing=None)
        return Template(template_name="events/form.html", context=context)

    @post("/new", status_code=303, media_type=MediaType.HTML)
    async def create(self, request: Request, data: Form) -> Any:
        viewer = viewer_of(request)
        assert viewer is not None  # the route group requires a member
        try:
            event = await service.create_event(event_input(data), viewer)
        except UserError as exc:
            context = await form_context(request, dict(data), [exc.message], editing=None)
            return Template(template_name="events/form.html", context=context, status_code=exc.status_code)
        return Redirect(path=f"/events/{event.id}/host?created=1", status_code=303)

    @get("/mine")
    async def mine(self, request: Request) -> Template:
        viewer = viewer_of(request)
        assert viewer is not None
        events = [card(e) for e in await service.hosted_by(viewer.person_id)]
        return Template(template_name="events/mine.html", context={"events": events})
