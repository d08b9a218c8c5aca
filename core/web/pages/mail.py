"""What a member reaches from a campaign email, without signing in: unsubscribe (also the
RFC 8058 one-click target), preferences, the click redirect and the open pixel; and the
bounce webhook mail providers post to.

Every link carries a signed token (core.mailings.links); a damaged or forged one gets a page
saying how to unsubscribe anyway, never a redirect or a change.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.utils.scope.state import ScopeState

from core.errors import UserError
from core.mailings import links
from core.mailings.preferences import (
    FREQUENCY_CHOICES,
    TOPIC_LABELS,
    frequency_label,
    get_preferences,
    set_preferences,
)
from core.mailings.suppression import resubscribe, unsubscribe
from core.mailings.tracking import PIXEL_GIF, record_click, record_open
from core.mailings.webhook import MAX_BODY_BYTES, WebhookUnauthorized, check_secret, process_payload
from core.people.tables import Person
from core.web.auth import viewer_of
from core.web.forms import Form, field

NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, private", "Pragma": "no-cache"}
_TOO_LARGE = f"The body is larger than {MAX_BODY_BYTES // 1024} KiB: send fewer events per request."
# A CSRF-exempt route: the one-click POST comes from mail providers without cookies.
_NO_CSRF = {"exclude_from_csrf": True}


def mask_email(email: str) -> str:
    """ada@example.org → a***@example.org: enough to recognise, not to harvest."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else email


def _damaged(kind: str) -> Template:
    return Template(template_name="mail/damaged_link.html", context={"kind": kind}, status_code=400)


async def _person(person_id: int) -> dict[str, Any] | None:
    query = Person.select(Person.id, Person.email, Person.subscription)
    return await query.where(Person.id == person_id).first()


def _csrf_tokens_match(submitted: str, cookie: str, secret: str) -> bool:
    def decoded(token: str) -> str | None:
        if len(token) <= CSRF_SECRET_LENGTH:
            return None
        value, digest = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
        return value if hmac.compare_digest(digest, generate_csrf_hash(value, secret)) else None

    first, second = decoded(submitted), decoded(cookie)
    return first is not None and second is not None and hmac.compare_digest(first, second)


def _check_csrf(request: Request, form: Any) -> None:
    """The same check as the CSRF middleware, for the one route it must skip: the
    unsubscribe URL takes both the mail provider's one-click POST and the person's form."""
    config = request.app.csrf_config
    assert config is not None
    cookie = request.cookies.get(config.cookie_name) or ""
    submitted = str(form.get("_csrf_token") or "")
    if not (cookie and submitted and _csrf_tokens_match(submitted, cookie, config.secret)):
        raise PermissionDeniedException("CSRF token verification failed")
    ScopeState.from_scope(request.scope).csrf_token = submitted  # for the forms on the answer page


def _values(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    return [str(v) for v in (value if isinstance(value, list) else [value])]


class MailPages(Controller):
    path = "/mail"
    include_in_schema = False

    # -- unsubscribe ------------------------------------------------------------------------

    @get("/unsubscribe/{token:str}")
    async def unsubscribe_page(self, token: FromPath[str]) -> Template:
        """A button, never an unsubscribe on GET: link scanners fetch every link in a mail."""
        read = links.read_unsubscribe_token(token)
        if read is None:
            return _damaged("unsubscribe")
        person = await _person(read[0])
        return Template(
            template_name="mail/unsubscribe.html",
            context={
                "token": token,
                "person": person,
                "masked": mask_email(person["email"]) if person else "",
                "preferences_url": links.preferences_url(read[0]),
            },
        )

    @post("/unsubscribe/{token:str}", status_code=200, opt=_NO_CSRF)
    async def unsubscribe_post(self, request: Request, token: FromPath[str]) -> Template | Response:
        form = await request.form()
        read = links.read_unsubscribe_token(token)
        if form.get("List-Unsubscribe") == "One-Click":  # RFC 8058: a mail provider, no cookies
            if read is None:
                return Response(
                    "This unsubscribe link is damaged or was not issued here.\n",
                    status_code=400,
                    media_type=MediaType.TEXT,
                )
            await unsubscribe(read[0], mailing_id=read[1], via="one-click")
            return Response("You are unsubscribed.\n", status_code=200, media_type=MediaType.TEXT)
        _check_csrf(request, form)
        if read is None:
            return _damaged("unsubscribe")
        await unsubscribe(read[0], mailing_id=read[1], via="page")
        person = await _person(read[0])
        return Template(
            template_name="mail/unsubscribed.html",
            context={
                "token": token,
                "masked": mask_email(person["email"]) if person else "",
                "preferences_url": links.preferences_url(read[0]),
            },
        )

    @post("/resubscribe/{token:str}", status_code=200)
    async def resubscribe_post(self, token: FromPath[str]) -> Template:
        read = links.read_unsubscribe_token(token)
        if read is None:
            return _damaged("unsubscribe")
        await resubscribe(read[0], via="page")
        return Template(
            template_name="mail/resubscribed.html",
            context={"preferences_url": links.preferences_url(read[0])},
        )

    # -- preferences ----------------------------------------------------------------------------

    @get("/preferences")
    async def my_preferences(self, request: Request) -> Redirect:
        """For a signed-in member (the account page links here), or after signing in from a
        damaged link's page."""
        viewer = viewer_of(request)
        if viewer is None:
            return Redirect(path=f"/login?next={quote('/mail/preferences', safe='')}", status_code=303)
        token = links.preferences_token(viewer.person_id)
        return Redirect(path=f"/mail/preferences/{token}", status_code=303)

    async def _preferences_page(
        self, token: str, *, saved: str = "", errors: list[str] | None = None
    ) -> Template:
        person_id = links.read_preferences_token(token)
        if person_id is None:
            return _damaged("preferences")
        person = await _person(person_id)
        prefs = await get_preferences(person_id)
        return Template(
            template_name="mail/preferences.html",
            context={
                "token": token,
                "person": person,
                "masked": mask_email(person["email"]) if person else "",
                "topics": [(key, label, prefs.wants(key)) for key, label in TOPIC_LABELS.items()],
                "frequencies": [(n, frequency_label(n)) for n in FREQUENCY_CHOICES],
                "max_per_week": prefs.max_per_week,
                "saved": saved,
                "errors": errors or [],
            },
            status_code=400 if errors else 200,
        )

    @get("/preferences/{token:str}")
    async def preferences_page(self, token: FromPath[str], saved: FromQuery[str] = "") -> Template:
        return await self._preferences_page(token, saved=saved)

    @post("/preferences/{token:str}", status_code=303)
    async def preferences_save(self, token: FromPath[str], data: Form) -> Template | Redirect:
        person_id = links.read_preferences_token(token)
        if person_id is None:
            return _damaged("preferences")
        if await _person(person_id) is None:
            return await self._preferences_page(token)
        action = field(data, "action", max_length=20) or "save"
        if action == "unsubscribe":
            await unsubscribe(person_id, via="preferences")
            saved = "unsubscribed"
        elif action == "resubscribe":
            await resubscribe(person_id, via="preferences")
            saved = "resubscribed"
        elif action == "save":
            wanted = set(_values(data, "topic"))
            unknown = sorted(wanted - set(TOPIC_LABELS))
            if unknown:
                return await self._preferences_page(token, errors=[f"Unknown mail topic {unknown[0]!r}."])
            try:
                frequency = int(field(data, "max_per_week", max_length=5) or "0")
                await set_preferences(person_id, [t for t in TOPIC_LABELS if t not in wanted], frequency)
            except ValueError:
                return await self._preferences_page(token, errors=["Choose how often from the list."])
            except UserError as exc:
                return await self._preferences_page(token, errors=[exc.message])
            saved = "preferences"
        else:
            raise UserError(f"Unknown action {action!r}: save, unsubscribe or resubscribe.")
        return Redirect(path=f"/mail/preferences/{token}?saved={saved}", status_code=303)

    # -- tracking ---------------------------------------------------------------------------------

    @get("/c/{token:str}", status_code=302)
    async def click(self, token: FromPath[str]) -> Redirect | Template:
        """Only ever to a destination inside a valid signature: never an open redirect."""
        read = links.read_click_token(token)
        if read is None:
            return _damaged("click")
        delivery_id, url = read
        await record_click(delivery_id, url)
        return Redirect(path=url, status_code=302, headers=NO_STORE)

    @get("/o/{pixel:str}")
    async def open_pixel(self, pixel: FromPath[str]) -> Response:
        """Always the image (a mail app must not show a broken picture); counted only when
        the instance tracks opens and the token is ours."""
        delivery_id = links.read_open_token(pixel.removesuffix(".gif"))
        if delivery_id is not None:
            await record_open(delivery_id)
        return Response(PIXEL_GIF, media_type="image/gif", headers=NO_STORE)

    # -- bounce webhook ---------------------------------------------------------------------------

    @post("/webhooks/bounces", status_code=200, opt=_NO_CSRF, request_max_body_size=MAX_BODY_BYTES)
    async def bounce_webhook(self, request: Request) -> Response:
        """Answers JSON always, errors included: the caller is a program."""
        try:
            check_secret(request.headers.get("authorization"))
            result = await process_payload(await request.body())
        except UserError as exc:
            unauthorized = isinstance(exc, WebhookUnauthorized)
            headers = {"WWW-Authenticate": 'Bearer realm="groundswell"'} if unauthorized else {}
            return Response({"error": exc.message}, status_code=exc.status_code, headers=headers)
        except HTTPException as exc:
            if exc.status_code != 413:
                raise
            return Response(
                {"error": _TOO_LARGE},
                status_code=413,
            )
        return Response(result.as_json(), status_code=200)
