"""OSDI events and attendances (HAL+JSON under /api/v1/), with record_attendance_helper.

Any member's token reads the listed events (public and published), as the site shows them to
anyone; staff tokens read every event. Attendances are member data: only who manages the
event (its host, its group's leaders, staff) reads or records them. The helper RSVPs a
person (found or created) — "accepted" or "tentative" takes a place or joins the waitlist,
"declined" cancels — and may mark them as attended.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.plugin_api import (
    HAL_JSON,
    Forbidden,
    NotFound,
    PersonInput,
    UserError,
    Viewer,
    collection,
    iso,
    link,
    page_of,
    sign_up,
    viewer_of,
)
from plugins.events import rsvp, service
from plugins.events.display import event_url
from plugins.events.tables import Attendance, Event

ORIGIN_SYSTEM = "Groundswell"
_OSDI_STATUS = {
    "published": "confirmed",
    "pending": "tentative",
    "cancelled": "cancelled",
    "rejected": "cancelled",
}
_ATTENDANCE_STATUS = {"going": "accepted", "waitlisted": "tentative", "cancelled": "declined"}


def _viewer(request: Request) -> Viewer:
    viewer = viewer_of(request)
    if viewer is None:  # the route group requires a token; this is only a safeguard
        raise Forbidden("This API needs a token in the OSDI-API-Token header.")
    return viewer


def event_resource(event: Event, *, total_accepted: int | None = None) -> dict[str, Any]:
    path = f"events/{event.id}"
    location: dict[str, Any] = {
        "venue": event.venue,
        "address_lines": [event.address] if event.address else [],
        "locality": event.locality,
        "region": event.region,
        "postal_code": event.postal_code,
        "country": "US" if event.postal_code else "",
    }
    if event.latitude is not None and event.longitude is not None:
        location["location"] = {"latitude": event.latitude, "longitude": event.longitude}
    resource: dict[str, Any] = {
        "identifiers": [f"groundswell:event-{event.id}"],
        "origin_system": ORIGIN_SYSTEM,
        "created_date": iso(event.created_at),
        "modified_date": iso(event.updated_at),
        "name": event.title,
        "title": event.title,
        "description": event.description,
        "browser_url": event_url(event.id),
        "type": "open",
        "status": _OSDI_STATUS.get(event.status, "tentative"),
        "visibility": "public" if event.visibility == "public" else "private",
        "start_date": iso(event.starts_at),
        "end_date": iso(event.ends_at),
        "time_zone": event.timezone,
        "all_day": False,
        "capacity": event.capacity,
        "guests_can_invite_others": True,
        "location": location,
        "online_url": event.online_url or None,
        "event_type": event.kind,
        "_links": {
            "self": link(path),
            "osdi:attendances": link(f"{path}/attendances"),
            "osdi:record_attendance_helper": link(f"{path}/record_attendance_helper"),
        },
    }
    if total_accepted is not None:
        resource["total_accepted"] = total_accepted
    if event.petition:
        resource["_links"]["osdi:petition"] = link(f"petitions/{event.petition}")
    return resource


def attendance_resource(row: dict[str, Any]) -> dict[str, Any]:
    path = f"events/{row['event']}/attendances/{row['id']}"
    return {
        "identifiers": [f"groundswell:attendance-{row['id']}"],
        "origin_system": ORIGIN_SYSTEM,
        "created_date": iso(row["created_at"]),
        "modified_date": iso(row["updated_at"]),
        "action_date": iso(row["created_at"]),
        "status": _ATTENDANCE_STATUS.get(row["status"], "needs action"),
        "attended": row["checked_in_at"] is not None,
        "guests": row["guests"],
        "_links": {
            "self": link(path),
            "osdi:event": link(f"events/{row['event']}"),
            "osdi:person": link(f"people/{row['person']}"),
        },
    }


async def _readable_event(event_id: int, viewer: Viewer) -> Event:
    event = await service.get_event(event_id)
    listed = event.status in ("published", "cancelled")
    if not listed and not await service.may_manage(event, viewer):
        raise NotFound("There is no such event.")
    return event


async def _managed_event(event_id: int, viewer: Viewer) -> Event:
    event = await service.get_event(event_id)
    if not await service.may_manage(event, viewer):
        raise Forbidden(
            "Attendances are member data: only the event's host, its group's leaders and staff "
            "can read or record them."
        )
    return event


def _hal(body: dict[str, Any], status: int = 200) -> Response[dict[str, Any]]:
    return Response(body, status_code=status, media_type=HAL_JSON)


def _text(value: Any, name: str, limit: int = 320) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise UserError(f"{name}: expected text.")
    text = str(value).strip()
    if len(text) > limit:
        raise UserError(f"{name}: at most {limit} characters.")
    return text


def _primary(items: Any, name: str) -> dict[str, Any]:
    if items is None:
        return {}
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise UserError(f"{name}: expected a list of objects.")
    return next((i for i in items if i.get("primary")), items[0] if items else {})


def person_from_osdi(body: Any) -> PersonInput:
    if not isinstance(body, dict):
        raise UserError("person: give the person as an object with email_addresses.")
    email = _text(_primary(body.get("email_addresses"), "person.email_addresses").get("address"), "email")
    if not email:
        raise UserError("person.email_addresses: give at least one email address.")
    postal = _primary(body.get("postal_addresses"), "person.postal_addresses")
    return PersonInput(
        email=email,
        given_name=_text(body.get("given_name"), "person.given_name", 200),
        family_name=_text(body.get("family_name"), "person.family_name", 200),
        postal_code=_text(postal.get("postal_code"), "person.postal_addresses.postal_code", 20),
        locality=_text(postal.get("locality"), "person.postal_addresses.locality", 100),
        region=_text(postal.get("region"), "person.postal_addresses.region", 100),
        source="event",
    )


class EventsApi(Controller):
    path = "/events"
    tags = ["OSDI: events"]

    @get("/", media_type=HAL_JSON, summary="List events")
    async def list_events(
        self, request: Request, page: FromQuery[int] = 1, per_page: FromQuery[int] = 25
    ) -> Response[dict[str, Any]]:
        viewer = _viewer(request)
        paging = page_of(page, per_page)
        if viewer.has_role("staff"):
            condition = Event.id > 0
        else:
            condition = (Event.visibility == "public") & Event.status.is_in(["published", "cancelled"])
        total = await Event.count().where(condition)
        rows = []
        if (paging.number - 1) * paging.size < total:
            rows = (
                await Event.objects()
                .where(condition)
                .order_by(Event.starts_at)
                .limit(paging.size)
                .offset((paging.number - 1) * paging.size)
            )
        items = [event_resource(e) for e in rows]
        return _hal(collection(path="events", rel="osdi:events", items=items, page=paging, total=total))

    @get("/{event_id:int}", media_type=HAL_JSON, summary="One event")
    async def one_event(self, request: Request, event_id: FromPath[int]) -> Response[dict[str, Any]]:
        event = await _readable_event(event_id, _viewer(request))
        return _hal(event_resource(event, total_accepted=await rsvp.seats_taken(event.id)))

    @get("/{event_id:int}/attendances", media_type=HAL_JSON, summary="An event's attendances (staff, host)")
    async def attendances(
        self,
        request: Request,
        event_id: FromPath[int],
        page: FromQuery[int] = 1,
        per_page: FromQuery[int] = 25,
    ) -> Response[dict[str, Any]]:
        event = await _managed_event(event_id, _viewer(request))
        paging = page_of(page, per_page)
        condition = Attendance.event == event.id
        total = await Attendance.count().where(condition)
        rows = []
        if (paging.number - 1) * paging.size < total:
            rows = (
                await Attendance.select()
                .where(condition)
                .order_by(Attendance.id)
                .limit(paging.size)
                .offset((paging.number - 1) * paging.size)
            )
        items = [attendance_resource(r) for r in rows]
        return _hal(
            collection(
                path=f"events/{event.id}/attendances",
                rel="osdi:attendances",
                items=items,
                page=paging,
                total=total,
            )
        )

    @get("/{event_id:int}/attendances/{attendance_id:int}", media_type=HAL_JSON, summary="One attendance")
    async def attendance(
        self, request: Request, event_id: FromPath[int], attendance_id: FromPath[int]
    ) -> Response[dict[str, Any]]:
        event = await _managed_event(event_id, _viewer(request))
        row = (
            await Attendance.select()
            .where((Attendance.event == event.id) & (Attendance.id == min(attendance_id, 2**31 - 1)))
            .first()
        )
        if row is None:
            raise NotFound("There is no such attendance.")
        return _hal(attendance_resource(row))

    @post(
        "/{event_id:int}/record_attendance_helper", media_type=HAL_JSON, summary="RSVP a person (staff, host)"
    )
    async def record_attendance_helper(
        self, request: Request, event_id: FromPath[int], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        event = await _managed_event(event_id, _viewer(request))
        status = _text(data.get("status"), "status", 40) or "accepted"
        if status not in ("accepted", "tentative", "declined"):
            raise UserError('status: one of "accepted", "tentative" or "declined".')
        attended = data.get("attended")
        if attended is not None and not isinstance(attended, bool):
            raise UserError("attended: expected true or false.")
        guests = data.get("guests", 0)
        if not isinstance(guests, int) or isinstance(guests, bool):
            raise UserError("guests: expected a whole number.")
        person = person_from_osdi(data.get("person"))
        signed = await sign_up(person)  # the OSDI helper creates or matches the person
        existed = await _attendance_of(event.id, signed.person_id)
        if status == "declined":
            if existed is None:
                raise UserError("status: this person has no RSVP to decline.")
            await rsvp.cancel_attendance(existed)
            attendance_id = existed
        else:
            result = await rsvp.rsvp(event.id, person, guests, source="api")
            attendance_id = result.attendance_id
            if attended is not None:
                await rsvp.check_in(event.id, attendance_id, present=attended)
        row = await Attendance.select().where(Attendance.id == attendance_id).first()
        return _hal(attendance_resource(row), 200 if existed else 201)


async def _attendance_of(event_id: int, person_id: int) -> int | None:
    row = (
        await Attendance.select(Attendance.id)
        .where((Attendance.event == event_id) & (Attendance.person == person_id))
        .first()
    )
    return row["id"] if row else None
