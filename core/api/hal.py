"""HAL+JSON building blocks for the OSDI API: URLs and links, identifiers and dates, paging,
and who is asking. Resource modules build their shapes from these, so every resource spells
`_links`, `identifiers` and the paging fields the same way."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from litestar.connection import ASGIConnection

from core.accounts.roles import Viewer
from core.errors import NotFound, Unauthorized, UserError
from core.settings import current_settings
from core.web.auth import viewer_of

HAL_JSON = "application/hal+json"
OSDI_VERSION = "1.1.1"
ORIGIN_SYSTEM = "Groundswell"
ID_PREFIX = "groundswell"
CURIES = [{"name": "osdi", "href": "https://opensupporter.github.io/osdi-docs/{rel}", "templated": True}]

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
# Database ids are 32-bit on PostgreSQL; anything larger cannot exist (and must not reach the driver).
MAX_ID = 2**31 - 1


def api_url(path: str = "") -> str:
    return f"{current_settings().public_url}/api/v1/{path}"


def link(path: str, **extra: Any) -> dict[str, Any]:
    return {"href": api_url(path), **extra}


def identifiers(local_id: int, *others: str) -> list[str]:
    return [f"{ID_PREFIX}:{local_id}", *[o for o in others if o]]


def iso(moment: datetime | None) -> str | None:
    """OSDI dates: UTC, second precision, with a Z."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def common_fields(
    local_id: int, created: datetime | None, modified: datetime | None, *others: str
) -> dict[str, Any]:
    """The fields every OSDI resource carries."""
    return {
        "identifiers": identifiers(local_id, *others),
        "origin_system": ORIGIN_SYSTEM,
        "created_date": iso(created),
        "modified_date": iso(modified or created),
    }


def checked_id(value: int, what: str) -> int:
    """An id from a URL: out-of-range numbers are simply not found."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"There is no such {what}.")
    return value


def id_from_href(href: str, collection: str) -> int | None:
    """The id in a link to one of this server's resources (`…/api/v1/people/12`), or None."""
    prefix = api_url(f"{collection}/")
    if not href.startswith(prefix):
        return None
    rest = href[len(prefix) :].rstrip("/")
    if not rest.isdigit() or len(rest) > 10 or not 1 <= int(rest) <= MAX_ID:
        return None
    return int(rest)


# --- paging ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_of(page: int, per_page: int) -> Page:
    """`page` is 1-based; `per_page` defaults to 25 and is capped at 100 (`max_pagesize`)."""
    if page < 1:
        raise UserError("page: pages are numbered from 1.")
    if per_page < 1:
        raise UserError(f"per_page: ask for between 1 and {MAX_PER_PAGE} records per page.")
    return Page(number=page, size=min(per_page, MAX_PER_PAGE))


def beyond_last(page: Page, total: int) -> bool:
    """True when the page starts after the last record (no need to query, however large `page` is)."""
    return page.offset >= total


def _page_url(path: str, number: int, size: int) -> str:
    query = {"page": number}
    if size != DEFAULT_PER_PAGE:
        query["per_page"] = size
    return f"{api_url(path)}?{urlencode(query)}"


def collection(*, path: str, rel: str, items: list[dict[str, Any]], page: Page, total: int) -> dict[str, Any]:
    """An OSDI collection: paging fields, `_links` (self/next/prev, one link per item) and the
    items themselves in `_embedded`."""
    total_pages = max(1, math.ceil(total / page.size))
    links: dict[str, Any] = {"self": {"href": _page_url(path, page.number, page.size)}}
    if page.number < total_pages:
        links["next"] = {"href": _page_url(path, page.number + 1, page.size)}
    if page.number > 1:
        links["prev"] = {"href": _page_url(path, min(page.number - 1, total_pages), page.size)}
    links[rel] = [{"href": item["_links"]["self"]["href"]} for item in items]
    links["curies"] = CURIES
    return {
        "total_pages": total_pages,
        "per_page": page.size,
        "page": page.number,
        "total_records": total,
        "_links": links,
        "_embedded": {rel: items},
    }


# --- who is asking --------------------------------------------------------------------------


def api_viewer(connection: ASGIConnection) -> Viewer:
    """The token's viewer in a guarded route group (the guard has already checked it)."""
    viewer = viewer_of(connection)
    if viewer is None:  # only reachable if a handler is registered outside its guarded group
        raise Unauthorized("This API needs a token in the OSDI-API-Token header.")
    return viewer


def optional_viewer(connection: ASGIConnection) -> Viewer | None:
    """For endpoints usable without a token: no token is fine, a wrong one is not (a caller who
    meant to authenticate should hear that it failed, not get the anonymous answer)."""
    viewer = viewer_of(connection)
    if viewer is None and connection.scope.get("state", {}).get("api_token_given"):
        raise Unauthorized(
            "The OSDI-API-Token is not valid or has been revoked. "
            "Send no token to use this helper anonymously, or create a new token on your account page."
        )
    return viewer


async def table_page(
    table: Any, condition: Any, paging: Page, *, path: str, rel: str, render: Any
) -> dict[str, Any]:
    """One page of `table`'s rows matching `condition` (None: all), oldest first, as a
    collection of `render(row)` resources; a page past the end skips the query."""
    count = table.count()
    select = table.select()
    if condition is not None:
        count, select = count.where(condition), select.where(condition)
    total = await count
    rows = []
    if not beyond_last(paging, total):
        rows = await select.order_by(table.id).limit(paging.size).offset(paging.offset)
    return collection(path=path, rel=rel, items=[render(r) for r in rows], page=paging, total=total)
