"""The OSDI API entry point: what this server offers and where to find it."""

from __future__ import annotations

from litestar import Request, get

from core.api.hal import CURIES, HAL_JSON, MAX_PER_PAGE, OSDI_VERSION, api_url, link
from core.plugins.web import osdi_links
from core.settings import current_settings

__all__ = ["HAL_JSON", "OSDI_VERSION", "api_url", "entry_point"]


@get("/", media_type=HAL_JSON, summary="OSDI API entry point", tags=["OSDI"])
async def entry_point(request: Request) -> dict:
    """Lists the resources this instance exposes. Plugins add their own links."""
    settings = current_settings()
    return {
        "motd": "Groundswell OSDI API",
        "vendor_name": "Groundswell",
        "product_name": "Groundswell",
        "osdi_version": OSDI_VERSION,
        "max_pagesize": MAX_PER_PAGE,
        "role": settings.role,
        "_links": {
            "self": {"href": api_url(), "title": "This API entry point"},
            "curies": CURIES,
            "osdi:people": link("people", title="The people (members) of this instance; staff tokens"),
            "osdi:petitions": link("petitions", title="The petitions on this instance"),
            "osdi:tags": link("tags", title="Tags on people; staff tokens"),
            "osdi:messages": link("messages", title="Mailings and their send helpers; staff tokens"),
            "osdi:person_signup_helper": link(
                "people/person_signup_helper", title="Sign a person up (token optional)"
            ),
            **osdi_links(),  # resources from running plugins, e.g. osdi:events
            "docs": {"href": f"{settings.public_url}/schema", "title": "OpenAPI schema"},
        },
    }
