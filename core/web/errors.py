"""One place where errors become responses: a page for people, JSON for the API, and never a
traceback. Unexpected errors are logged with a reference the page shows."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from core.errors import UserError
from core.web.auth import API_PREFIX, viewer_of

log = logging.getLogger("groundswell.web")

_TITLES = {
    400: "Please check what you sent",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Already done",
    410: "No longer valid",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


def error_response(request: Request, status: int, message: str, **extra: Any) -> Response:
    if _wants_json(request):
        body = {
            "request_type": request.method,
            "error": _TITLES.get(status, "Error"),
            "message": message,
            **extra,
        }
        return Response(content=body, status_code=status, media_type=MediaType.JSON)
    engine = request.app.template_engine
    assert engine is not None
    html = engine.get_template("error.html").render(
        status=status,
        title=_TITLES.get(status, "Error"),
        message=message,
        details=extra.get("details", []),
        viewer=viewer_of(request),
        request=request,
        csrf_input="",
    )
    return Response(content=html, status_code=status, media_type=MediaType.HTML)


def _validation_details(exc: ValidationException) -> list[str]:
    details = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key = item.get("key") or item.get("source") or ""
            details.append(f"{key}: {item.get('message', '')}".strip(": "))
    return details


def handle_user_error(request: Request, exc: UserError) -> Response:
    return error_response(request, exc.status_code, exc.message)


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if (
        isinstance(exc, NotAuthorizedException)
        and not _wants_json(request)
        and request.method in ("GET", "HEAD")
    ):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(path=f"/login?next={quote(target, safe='')}", status_code=303)
    if isinstance(exc, ValidationException):
        details = _validation_details(exc)
        return error_response(request, 400, "Some of what you sent could not be used.", details=details)
    if status >= 500:
        return handle_unexpected(request, exc)
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else _TITLES.get(status, "")
    if status == 413:
        message = "What you sent is larger than this server accepts. Send something smaller."
    elif status == 405:
        message = f"{request.method} is not allowed here."
    elif status == 404 and message in ("Not Found", ""):
        message = "There is nothing at this address. Check the link, or start from the home page."
    elif status == 403 and "CSRF" in message:
        message = (
            "This form has expired or was not sent from this site. Go back, reload the page and try again."
        )
    return error_response(request, status, message)


def handle_unexpected(request: Request, exc: Exception) -> Response:
    reference = secrets.token_hex(4)
    log.error("unhandled error %s on %s %s", reference, request.method, request.url.path, exc_info=exc)
    return error_response(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        f"Something went wrong on our side; it has been logged as {reference}. Please try again in a moment.",
        reference=reference,
    )


EXCEPTION_HANDLERS = {
    UserError: handle_user_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
