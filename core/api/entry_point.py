"""The OSDI API entry point: what this server offers and where to find it."""

from __future__ import annotations

from litestar import Request, get

from core.settings import current_settings

OSDI_VERSION = "1.1.1"
HAL_JSON = "application/hal+json"


def api_url(path: str = "") -> str:
    return f"{current_settings().public_url}/api/v1/{path}"


@get("/", media_type=HAL_JSON, summary="OSDI API entry point")
async def entry_point(request: Request) -> dict:
    """Lists the resources this instance exposes. Plugins add their own links."""
    settings = current_settings()
    return {
        "motd": "Groundswell OSDI API",
        "vendor_name": "Groundswell",
        "product_name": "Groundswell",
        "osdi_version": OSDI_VERSION,
        "max_pagesize": 100,
        "role": settings.role,
        "_links": {
            "self": {"href": api_url(), "title": "This API entry point"},
            "curies": [
                {"name": "osdi", "href": "http://opensupporter.github.io/osdi-docs/{rel}", "templated": True}
            ],
            "docs": {"href": f"{settings.public_url}/schema", "title": "OpenAPI schema"},
        },
    }
