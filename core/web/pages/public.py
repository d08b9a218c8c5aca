"""Pages anyone may see."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from core.petitions.directory import DirectoryQuery, search
from core.settings import current_settings


@get("/", include_in_schema=False)
async def home() -> Template:
    settings = current_settings()
    popular = await search(DirectoryQuery(sort="growing"))
    return Template(
        template_name="home.html", context={"role": settings.role, "petitions": popular.petitions[:6]}
    )
