"""Host tools (the host, leaders and staff): the event's dashboard with attendees and the
waitlist, the CSV, messages, the check-in list, editing/rescheduling and cancelling; and the
staff's approval queue for members' events."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.plugin_api import Form, UserError, Viewer, field, get_petition, viewer_of
from plugins.events import host_tools, rsvp, service
from plugins.events.display import place_text, when_text
from plugins.events.forms import event_input, form_values
from plugins.events.pages import card, form_context
from plugins.events.tables import Event


def _viewer(request: Request) -> Viewer:
    viewer = viewer_of(request)
    assert viewer is not None  # the route group requires a member
    return viewer


async def _managed(request: Request, event_id: int) -> Event:
    event = await service.get_event(event_id)
    await service.ensure_may_manage(event, _viewer(request))
    return event


async def _dashboard(
    request: Request, event: Event, *, errors: list[str] | None = None, notice: str = "", status: int = 200
) -> Template:
    people = await host_tools.attendees(event.id)
    return Template(
        template_name="events/host.html",
        status_code=status,
        context={
            "event": event,
            "when": when_text(event.starts_at, event.ends_at, event.timezone),
            "place": place_text(event),
            "going": [a for a in people if a.status == "going"],
            "waitlist": [a for a in people if a.status == "waitlisted"],
            "cancelled": [a for a in people if a.status == "cancelled"],
            "head_count": host_tools.head_count(people),
            "waiting_count": host_tools.head_count(people, "waitlisted"),
            "messages": await host_tools.sent_messages(event.id),
            "errors": errors or [],
            "notice": notice,
        },
    )


_NOTICES = {
    "created": "Your event is saved.",
    "pending": "Your event is saved and waits for a staff member's approval before it is listed.",
    "updated": "Your changes are saved.",
    "rescheduled": "Your changes are saved, and everyone who RSVPed has been told the new time or place.",
    "cancelled": "The event is cancelled; everyone who RSVPed has been told.",
}


class HostPages(Controller):
    path = "/events/{event_id:int}"
    include_in_schema = False

    @get("/host")
    async def dashboard(
        self,
        request: Request,
        event_id: FromPath[int],
        created: FromQuery[str] = "",
        done: FromQuery[str] = "",
    ) -> Template:
        event = await _managed(request, event_id)
        notice = done if done in _NOTICES else ""
        if created:
            notice = "pending" if event.status == "pending" else "created"
        return await _dashboard(request, event, notice=_NOTICES.get(notice, ""))

    @get("/attendees.csv")
    async def csv(self, request: Request, event_id: FromPath[int]) -> Response[str]:
        event = await _managed(request, event_id)
        body = host_tools.attendees_csv(event, await host_tools.attendees(event.id))
        return Response(
            content=body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="event-{event.id}-attendees.csv"'},
        )

    @post("/message", status_code=200, media_type=MediaType.HTML)
    async def message(self, request: Request, event_id: FromPath[int], data: Form) -> Any:
        event = await _managed(request, event_id)
        try:
            sent = await host_tools.message_attendees(
                event,
                _viewer(request),
                field(data, "subject", max_length=1000),
                field(data, "body", max_length=20_000),
                include_waitlist=bool(field(data, "include_waitlist")),
            )
        except UserError as exc:
            return await _dashboard(request, event, errors=[exc.message], status=exc.status_code)
        return await _dashboard(
            request,
            event,
            notice=f"Your message is on its way to {sent} {'person' if sent == 1 else 'people'}.",
        )

    @get("/check-in")
    async def check_in_list(self, request: Request, event_id: FromPath[int]) -> Template:
        event = await _managed(request, event_id)
        people = [a for a in await host_tools.attendees(event.id) if a.status == "going"]
        return Template(
            template_name="events/check_in.html",
            context={
                "event": event,
                "people": people,
                "arrived": sum(1 for a in people if a.checked_in),
                "when": when_text(event.starts_at, event.ends_at, event.timezone),
            },
        )

    @post("/check-in/{attendance_id:int}", status_code=303)
    async def check_in(
        self, request: Request, event_id: FromPath[int], attendance_id: FromPath[int], data: Form
    ) -> Redirect:
        await _managed(request, event_id)
        await rsvp.check_in(event_id, attendance_id, present=field(data, "present") != "no")
        return Redirect(path=f"/events/{event_id}/check-in#a{attendance_id}", status_code=303)

    @get("/edit")
    async def edit(self, request: Request, event_id: FromPath[int]) -> Template:
        event = await _managed(request, event_id)
        slug = (await get_petition(event.petition)).slug if event.petition else ""
        context = await form_context(request, form_values(event, slug), [], editing=event)
        return Template(template_name="events/form.html", context=context)

    @post("/edit", status_code=303, media_type=MediaType.HTML)
    async def update(self, request: Request, event_id: FromPath[int], data: Form) -> Any:
        event = await _managed(request, event_id)
        try:
            updated = await service.update_event(event_id, event_input(data), _viewer(request))
        except UserError as exc:
            context = await form_context(request, dict(data), [exc.message], editing=event)
            return Template(template_name="events/form.html", context=context, status_code=exc.status_code)
        done = "rescheduled" if updated.version != event.version else "updated"
        return Redirect(path=f"/events/{event_id}/host?done={done}", status_code=303)

    @post("/cancel", status_code=303)
    async def cancel(self, request: Request, event_id: FromPath[int], data: Form) -> Redirect:
        await service.cancel_event(event_id, _viewer(request), field(data, "reason", max_length=2000))
        return Redirect(path=f"/events/{event_id}/host?done=cancelled", status_code=303)


class ModerationPages(Controller):
    path = "/events"
    include_in_schema = False

    @get("/moderation")
    async def queue(self) -> Template:
        pending = await service.pending_events()
        return Template(
            template_name="events/moderation.html", context={"events": [card(e) for e in pending]}
        )

    @post("/{event_id:int}/approve", status_code=303)
    async def approve(self, request: Request, event_id: FromPath[int]) -> Redirect:
        await service.moderate_event(event_id, _viewer(request), approve=True)
        return Redirect(path="/events/moderation", status_code=303)

    @post("/{event_id:int}/reject", status_code=303)
    async def reject(self, request: Request, event_id: FromPath[int], data: Form) -> Redirect:
        await service.moderate_event(
            event_id, _viewer(request), approve=False, reason=field(data, "reason", max_length=2000)
        )
        return Redirect(path="/events/moderation", status_code=303)
