"""Signing in (by emailed link or password) and out."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.accounts.login_links import consume_login_link, peek_login_link, safe_next_path
from core.accounts.login_mail import email_login_link
from core.accounts.logins import check_password
from core.accounts.sessions import COOKIE_NAME, SESSION_TTL, end_session, start_session
from core.errors import Unauthorized, UserError
from core.people.emails import InvalidEmail, clean_email
from core.settings import current_settings
from core.web.forms import Form, field


def _session_cookie(token: str) -> Cookie:
    return Cookie(
        key=COOKIE_NAME,
        value=token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=current_settings().public_url.startswith("https://"),
        max_age=int(SESSION_TTL.total_seconds()),
    )


class LoginController(Controller):
    path = "/login"
    include_in_schema = False

    @get("/")
    async def form(self, request: Request, next: FromQuery[str] = "/") -> Template:
        return Template(template_name="login.html", context={"next": safe_next_path(next)})

    @post("/", status_code=200)
    async def submit(self, data: Form) -> Template | Redirect:
        next_path = safe_next_path(field(data, "next") or "/")
        try:
            email = clean_email(field(data, "email", max_length=320))
        except InvalidEmail as exc:
            raise UserError(str(exc)) from None
        password = field(data, "password", max_length=1024)
        if password:
            login = await check_password(email, password)
            if login is None:
                raise Unauthorized(
                    "That email and password do not match. Try again, or "
                    "leave the password empty to get a sign-in link by email."
                )
            token = await start_session(login.id)
            return Redirect(path=next_path, status_code=303, cookies=[_session_cookie(token)])
        await email_login_link(email, next_path)
        return Template(template_name="login_sent.html", context={"email": email})

    @get("/{token:str}")
    async def confirm(self, token: FromPath[str]) -> Template:
        """Show a button rather than signing in on GET: mail scanners that prefetch links
        would otherwise use up the single-use link before the person clicks it."""
        link = await peek_login_link(token)
        return Template(template_name="login_confirm.html", context={"token": token, "next": link.next_path})

    @post("/{token:str}", status_code=303)
    async def use(self, token: FromPath[str]) -> Redirect:
        link = await consume_login_link(token)
        session = await start_session(link.login)
        return Redirect(
            path=safe_next_path(link.next_path), status_code=303, cookies=[_session_cookie(session)]
        )


@post("/logout", status_code=303, include_in_schema=False)
async def logout(request: Request) -> Redirect:
    token = request.cookies.get(COOKIE_NAME)
    if token:
        await end_session(token)
    response = Redirect(path="/", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
