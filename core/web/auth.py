"""Who is asking, and may they? Authentication resolves the viewer once per request;
authorization is one guard per route group (see core.web.app), never scattered checks."""

from __future__ import annotations

from collections.abc import Callable

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from core.accounts.api_tokens import viewer_for_api_token
from core.accounts.roles import ROLES, Viewer
from core.accounts.sessions import COOKIE_NAME, viewer_for_session

API_PREFIX = "/api/"
API_TOKEN_HEADER = "osdi-api-token"  # noqa: S105 - a header name


class ViewerMiddleware(ASGIMiddleware):
    """Resolve the session cookie (pages) or the OSDI-API-Token header (API) to a Viewer in
    `request.state.viewer`; absent or invalid credentials leave it None."""

    scopes = ("http",)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        viewer: Viewer | None = None
        token_given = False
        if scope["path"].startswith(API_PREFIX):
            for name, value in scope["headers"]:
                if name == API_TOKEN_HEADER.encode():
                    token_given = True
                    viewer = await viewer_for_api_token(value.decode("latin-1").strip())
                    break
        else:
            cookie = _cookie(scope, COOKIE_NAME)
            if cookie:
                viewer = await viewer_for_session(cookie)
        state = scope.setdefault("state", {})
        state["viewer"] = viewer
        state["api_token_given"] = token_given
        await next_app(scope, receive, send)


def _cookie(scope: Scope, name: str) -> str | None:
    for header, value in scope["headers"]:
        if header == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == name:
                    return val
    return None


def viewer_of(connection: ASGIConnection) -> Viewer | None:
    return connection.scope.get("state", {}).get("viewer")


def requires_role(role: str) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    """The guard for a route group: signed in, with `role` or a higher one."""
    assert role in ROLES, role
    article = "an" if role[0] in "aeiou" else "a"

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        viewer = viewer_of(connection)
        if viewer is None:
            if connection.scope.get("state", {}).get("api_token_given"):
                raise NotAuthorizedException(
                    "The OSDI-API-Token is not valid or has been revoked. "
                    "Create a new one with `groundswell token create EMAIL` or on your account page."
                )
            if connection.scope["path"].startswith(API_PREFIX):
                raise NotAuthorizedException("This API needs a token in the OSDI-API-Token header.")
            raise NotAuthorizedException("Please sign in to continue.")
        if not viewer.has_role(role):
            raise PermissionDeniedException(
                f"This needs {article} {role} account; yours is {viewer.role}. "
                "Ask an administrator if you need access."
            )

    guard.__name__ = f"requires_{role}"
    return guard
