"""The baseline: a bare Litestar endpoint that parses the same form a signature sends and
answers with a small HTML page, served by the same server with the same settings."""

from typing import Annotated, Any

from litestar import Litestar, MediaType, post
from litestar.enums import RequestEncodingType
from litestar.params import Body


@post("/bare", status_code=200, media_type=MediaType.HTML)
async def bare(data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]) -> str:
    return f"<!doctype html><p>Thanks, {len(data)} fields</p>"


app = Litestar(route_handlers=[bare], debug=False, logging_config=None)
