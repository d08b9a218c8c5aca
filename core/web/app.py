"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import dramatiq
from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi.config import OpenAPIConfig
from litestar.static_files import create_static_files_router

from core.api.entry_point import entry_point
from core.api.helpers import person_signup_helper, record_signature_helper
from core.api.messages import MessagesApi
from core.api.people import PeopleApi
from core.api.petitions import PetitionsApi
from core.api.signatures import SignaturesApi
from core.api.tags import TagsApi
from core.db.engine import close_pool, start_pool
from core.plugins.host import activate as activate_plugins
from core.plugins.web import plugin_route_handlers, plugin_template_dirs, template_globals
from core.settings import Settings, current_settings
from core.tasks import broker as broker_module
from core.tasks import event_loop
from core.tasks.worker import load_handlers, start_dramatiq_worker, sweep_forever
from core.web.auth import ViewerMiddleware, requires_role
from core.web.errors import EXCEPTION_HANDLERS
from core.web.health import healthz, readyz
from core.web.middleware import log_requests
from core.web.pages.account import AccountController
from core.web.pages.admin import AdminController
from core.web.pages.admin_plugins import PluginAdmin
from core.web.pages.groups import GroupAdmin, GroupPages
from core.web.pages.leader import LeaderController
from core.web.pages.leader_mail import LeaderMailController
from core.web.pages.login import LoginController, logout
from core.web.pages.mail import MailPages
from core.web.pages.moderation import ModerationController, ReportPages
from core.web.pages.petitions import PetitionPages, confirm
from core.web.pages.public import home
from core.web.pages.staff import StaffController
from core.web.pages.staff_boosts import StaffBoostsController
from core.web.pages.staff_mail import StaffMailController
from core.web.pages.start import StartPages
from core.web.templates import build_environment, static_dirs, template_config, template_dirs

log = logging.getLogger("groundswell.web")

VERSION = "0.1.0"

# Authorization, in one place: each route group and the least role it needs.
ROUTE_GROUPS: list[tuple[str, list, str | None]] = [
    ("/", [home, LoginController, logout, PetitionPages, confirm, StartPages, GroupPages, ReportPages], None),
    # Reached from emails without signing in: each link carries a signed token.
    ("/", [MailPages], None),
    ("/", [AccountController], "member"),
    ("/lead", [LeaderController, LeaderMailController], "leader"),
    ("/", [StaffController, ModerationController, StaffMailController, StaffBoostsController], "staff"),
    ("/", [AdminController, GroupAdmin, PluginAdmin], "admin"),
    ("/api/v1", [entry_point, PetitionsApi, SignaturesApi], "member"),
    ("/api/v1", [PeopleApi, TagsApi, MessagesApi], "staff"),
    # Token optional (embeddable forms): anonymous calls are rate-limited and get no member data.
    ("/api/v1", [record_signature_helper, person_signup_helper], None),
]


def _routers() -> list[Router]:
    routers = []
    for path, handlers, role in ROUTE_GROUPS:
        guards = [requires_role(role)] if role else []
        routers.append(Router(path=path, route_handlers=handlers, guards=guards))
    return routers


def _login_throttled(request) -> bool:  # type: ignore[no-untyped-def]
    return request.method == "POST" and request.url.path.startswith(("/login", "/start"))


def create_app(settings: Settings | None = None, *, run_worker: bool = True) -> Litestar:
    """Build the app. With no broker configured and `run_worker`, background work runs in
    this process (a Dramatiq worker on a stub broker, plus the outbox sweeper)."""
    settings = settings or current_settings()

    @contextlib.asynccontextmanager
    async def background(_: Litestar) -> AsyncIterator[None]:
        event_loop.adopt(asyncio.get_running_loop())
        await start_pool()
        await activate_plugins()  # which plugins run: admin switches, migrations
        load_handlers()
        # A broker installed before the app started (by a test, say) belongs to its installer.
        owns_broker = broker_module.current_broker() is None
        broker_module.install(settings.broker_url)
        worker: dramatiq.Worker | None = None
        sweeper: asyncio.Task | None = None
        if run_worker and not settings.has_broker:
            worker = start_dramatiq_worker(settings.worker_threads, poll_ms=50)
            sweeper = asyncio.create_task(sweep_forever(settings.sweep_seconds))
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper  # its statement interrupted and cleaned up before the pool closes
            if worker is not None:
                # The worker's threads wait on this loop; stop them without blocking it.
                await asyncio.to_thread(worker.stop)
            if owns_broker:
                broker_module.uninstall()
            await close_pool()
            event_loop.release()

    environment = build_environment(
        template_dirs(settings.theme_dir, plugin_template_dirs()),
        {"site_url": settings.public_url, "instance_role": settings.role, **template_globals()},
    )
    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            *_routers(),
            *plugin_route_handlers([healthz, readyz, *_routers()], settings.theme_dir),
            create_static_files_router(
                path="/static", directories=static_dirs(settings.theme_dir), include_in_schema=False
            ),
        ],
        lifespan=[background],
        middleware=[
            RateLimitConfig(
                rate_limit=("minute", 20),
                check_throttle_handler=_login_throttled,
                exclude=["^/api/", "^/static/"],
            ).middleware,
            ViewerMiddleware(),
        ],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="gs_csrf",
            cookie_httponly=True,
            cookie_secure=settings.public_url.startswith("https://"),
            exclude=["^/api/", "^/healthz$", "^/readyz$"],
        ),
        template_config=template_config(environment),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(title="Groundswell", version=VERSION, path="/schema"),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        logging_config=None,
    )
    app.asgi_handler = log_requests(app.asgi_handler)
    return app
