"""A signed-in person's own account: password and API tokens."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.accounts.api_tokens import create_api_token, list_api_tokens, revoke_api_token
from core.accounts.logins import set_password
from core.errors import UserError
from core.web.auth import viewer_of
from core.web.forms import Form, field


class AccountController(Controller):
    path = "/account"
    include_in_schema = False

    async def _page(self, request: Request, **extra: object) -> Template:
        viewer = viewer_of(request)
        assert viewer is not None
        tokens = await list_api_tokens(viewer.login_id)
        return Template(template_name="account.html", context={"tokens": tokens, **extra})

    @get("/")
    async def show(self, request: Request, saved: FromQuery[str] = "") -> Template:
        return await self._page(request, saved=saved)

    @post("/password", status_code=303)
    async def password(self, request: Request, data: Form) -> Redirect:
        viewer = viewer_of(request)
        assert viewer is not None
        new = field(data, "password", max_length=1024)
        if new != field(data, "password_again", max_length=1024):
            raise UserError("The two passwords differ. Type the same password twice.")
        await set_password(viewer.login_id, new)
        return Redirect(path="/account?saved=password", status_code=303)

    @post("/tokens", status_code=200)
    async def create_token(self, request: Request, data: Form) -> Template:
        viewer = viewer_of(request)
        assert viewer is not None
        issued = await create_api_token(viewer.login_id, field(data, "name", max_length=100))
        return await self._page(request, new_token=issued.secret)

    @post("/tokens/{token_id:int}/revoke", status_code=303)
    async def revoke_token(self, request: Request, token_id: FromPath[int]) -> Redirect:
        viewer = viewer_of(request)
        assert viewer is not None
        await revoke_api_token(token_id, login_id=viewer.login_id)
        return Redirect(path="/account?saved=revoked", status_code=303)
