"""HTTP: the protocol endpoints, the admin page and the hub's public directory.

Protocol endpoints are thin: they hand the raw header lines, the raw path and a body reader
to `inbound`/`pairing` (which verify before reading the body) and turn a FederationError
into the protocol's JSON refusal. They are exempt from CSRF: they are authenticated by
HTTP message signatures, not cookies.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath
from litestar.response import Redirect, Template

from core.plugin_api import Form, NotFound, field
from federation import hub_directory, outbound, pairing
from federation.boost_requests import received_requests
from federation.canonical import canonical_json, loads_strict
from federation.errors import FederationError
from federation.identity import discovery_document, load_identity
from federation.inbound import path_and_query, raw_headers, receive_transaction, verify_request
from federation.peers import peer_views, set_status
from federation.tables import FederationInvite

JSON = "application/json"
NO_CSRF = {"exclude_from_csrf": True}


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content=canonical_json(data), status_code=status, media_type=JSON, headers=headers)


def _refusal(exc: FederationError) -> Response:
    headers = {"Retry-After": str(exc.details["retry_after"])} if "retry_after" in exc.details else None
    return _json(exc.as_json(), exc.status_code, headers)


@get("/.well-known/groundswell", opt=NO_CSRF, include_in_schema=False)
async def well_known() -> Response:
    return _json(discovery_document(), headers={"Cache-Control": "max-age=300"})


def _claimed_origin(body: bytes) -> str:
    try:
        return str(loads_strict(body).get("origin", ""))
    except Exception:
        raise FederationError(400, "document_invalid", "the body is not JSON") from None


class FederationApi(Controller):
    """The federation protocol v1 (docs/federation.md §9)."""

    path = "/federation/v1"
    opt = NO_CSRF
    include_in_schema = False

    @put("/send/{txn_id:str}")
    async def send(self, request: Request, txn_id: FromPath[str]) -> Response:
        try:
            received = await verify_request(
                "PUT",
                path_and_query(request.scope),
                raw_headers(request.scope),
                request.body,
                claimed_node=_claimed_origin,
            )
            return _json(await receive_transaction(received, txn_id))
        except FederationError as exc:
            return _refusal(exc)

    @get("/events")
    async def events(self, request: Request) -> Response:
        try:
            received = await verify_request(
                "GET", path_and_query(request.scope), raw_headers(request.scope), request.body
            )
            since = request.query_params.get("since", "0")
            if not since.isdigit() or len(since) > 18:
                raise FederationError(400, "bad_cursor", "since must be 0 or a cursor from a previous page")
            return _json(await outbound.events_for(received.verified.node_id, int(since), time.time()))
        except FederationError as exc:
            return _refusal(exc)

    @post("/pair")
    async def pair(self, request: Request) -> Response:
        try:
            result = await pairing.receive_pair_request(
                raw_headers(request.scope), path_and_query(request.scope), request.body
            )
            return _json(result, 202)
        except FederationError as exc:
            return _refusal(exc)


# --- admin -----------------------------------------------------------------------------------


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "—"


async def _admin_context(**extra: Any) -> dict[str, Any]:
    identity = load_identity()
    invites = []
    if identity.role == "hub":
        invites = await (
            FederationInvite.select().order_by(FederationInvite.created_at, ascending=False).limit(20)
        )
    now = time.time()
    return {
        "identity": identity,
        "peers": await peer_views(),
        "invites": invites,
        "dead_letters": await outbound.dead_letters(50),
        "boost_requests": await received_requests() if identity.role != "hub" else [],
        "now": now,
        "when": _when,
        **extra,
    }


class FederationAdmin(Controller):
    path = "/admin/federation"
    include_in_schema = False

    @get("/")
    async def index(self, request: Request) -> Template:
        notice = request.query_params.get("done", "")
        return Template(
            template_name="federation/admin.html", context=await _admin_context(notice=notice[:200])
        )

    @post("/invite")
    async def invite(self, data: Form) -> Template:
        invite = await pairing.create_invite(field(data, "origin", max_length=300))
        return Template(template_name="federation/admin.html", context=await _admin_context(invite=invite))

    @post("/join")
    async def join(self, data: Form) -> Redirect:
        result = await pairing.join(
            field(data, "hub_url", max_length=300),
            field(data, "token", max_length=100),
            field(data, "fingerprint", max_length=100),
        )
        return Redirect(
            f"/admin/federation/?done=Join request sent to {result['origin']}; waiting for approval."
        )

    @post("/peers/{node_id:str}/{action:str}")
    async def peer_action(self, node_id: FromPath[str], action: FromPath[str]) -> Redirect:
        if action == "approve":
            await pairing.approve(node_id)
        elif action == "suspend":
            await set_status(node_id, "suspended")
        elif action == "unsuspend":
            await pairing.approve(node_id)
        elif action == "retry":
            await outbound.retry_dead_letters(node_id)
            await outbound.deliver_to_peer(node_id)
        elif action == "catch-up":
            await outbound.catch_up(node_id)
        else:
            raise NotFound(f"There is no peer action {action!r}.")
        return Redirect(f"/admin/federation/?done={action}: {node_id}")


@get("/federation/directory", include_in_schema=False)
async def directory(request: Request) -> Template:
    page = request.query_params.get("page", "1")
    number = int(page) if page.isdigit() and len(page) < 6 else 1
    return Template(
        template_name="federation/directory.html",
        context={"listing": await hub_directory.listing(max(number, 1)), "role": load_identity().role},
    )
