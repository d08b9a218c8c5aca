"""The hub's directory tabs for federated groups and upcoming events, as pages and as JSON
(`?format=json`): the same rows, for a campaign's own site or a map to build on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get
from litestar.response import Template

from core.plugin_api import UserError
from federation import listings
from federation.identity import load_identity

GROUP_KIND_LABELS = {"council": "Council", "state": "State group", "other": "Group"}
MAX_PAGE = 100_000


def _page(request: Request) -> int:
    text = request.query_params.get("page", "1")
    if not text.isdigit() or not 1 <= int(text[:7]) <= MAX_PAGE:
        raise UserError(f"page must be a whole number from 1 to {MAX_PAGE}; got {text[:20]!r}.")
    return int(text)


def _wants_json(request: Request) -> bool:
    wanted = request.query_params.get("format", "html")
    if wanted not in ("html", "json"):
        raise UserError(f"format is html or json; got {wanted[:20]!r}.")
    return wanted == "json"


def _next(request: Request, listing: listings.Page) -> str | None:
    if not listing.has_next:
        return None
    return f"{request.url.path}?format=json&page={listing.page + 1}"


def _iso(epoch: int, zone: str) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).astimezone(ZoneInfo(zone)).isoformat()
    except (ValueError, KeyError):
        return datetime.fromtimestamp(epoch, UTC).isoformat()


def _event_json(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("title", "timezone", "online", "venue", "locality", "region", "group", "url", "instance")
    return {
        **{k: row[k] for k in keep},
        "start_date": _iso(row["starts_at"], row["timezone"]),
        "end_date": _iso(row["ends_at"], row["timezone"]),
    }


@get("/federation/directory/groups", include_in_schema=False)
async def directory_groups(request: Request) -> Response | Template:
    page, as_json = _page(request), _wants_json(request)
    listing = await listings.groups(page)
    if as_json:
        keep = ("name", "kind", "description", "region", "url", "instance")
        groups = [{k: row[k] for k in keep} for row in listing.rows]
        return Response({"groups": groups, "page": page, "next": _next(request, listing)})
    return Template(
        template_name="federation/directory_groups.html",
        context={"listing": listing, "role": load_identity().role, "kinds": GROUP_KIND_LABELS},
    )


@get("/federation/directory/events", include_in_schema=False)
async def directory_events(request: Request) -> Response | Template:
    page, as_json = _page(request), _wants_json(request)
    listing = await listings.upcoming_events(page)
    if as_json:
        events = [_event_json(row) for row in listing.rows]
        return Response({"events": events, "page": page, "next": _next(request, listing)})
    return Template(
        template_name="federation/directory_events.html",
        context={"listing": listing, "role": load_identity().role},
    )
