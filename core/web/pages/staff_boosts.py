"""Staff boosts (/staff/boosts): candidates and running boosts ranked, each with its stages and
decision log and the overrules (turbocharge, hold, resume, stop, exclude); admins also set the
engine's policies here. Handlers parse the form and call core.boost.service; every rule lives
there. The route group needs the staff role.
"""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core.boost.service import STAFF_ACTIONS, staff_act, staff_overview
from core.errors import Forbidden, UserError
from core.instance_settings import POLICIES, get_policy, set_policies
from core.settings import current_settings
from core.web.auth import viewer_of
from core.web.forms import Form, field

BOOST_POLICIES = (
    "boost_threshold",
    "boost_first_stage",
    "boost_window_hours",
    "boost_daily_per_100",
    "boost_member_gap_days",
    "boost_accept_remote",
    "boost_remote_k_min",
)
# Added with pooled reach: a form that does not send them keeps their current values.
OPTIONAL_POLICIES = ("boost_accept_remote", "boost_remote_k_min")
DONE = {
    "turbocharge": "Turbocharged: the boost expands now and is served first from today's budget.",
    "hold": "On hold: no new emails go out until you resume it.",
    "resume": "Resumed.",
    "stop": "Stopped: nothing more of it is sent.",
    "exclude": "Excluded: this petition will not be boosted.",
    "settings": "The boost settings are saved; they apply from the next decision.",
}


class StaffBoostsController(Controller):
    path = "/staff/boosts"
    include_in_schema = False

    @get("/")
    async def overview(
        self, request: Request, done: FromQuery[str] = "", error: FromQuery[str] = ""
    ) -> Template:
        viewer = viewer_of(request)
        return Template(
            template_name="staff/boosts.html",
            context={
                **await staff_overview(),
                "done": DONE.get(done, ""),
                "is_admin": bool(viewer and viewer.has_role("admin")),
                "policies": {key: POLICIES[key] for key in BOOST_POLICIES},
                "values": {key: await get_policy(key) for key in BOOST_POLICIES},
                "window_override": current_settings().boost_window_seconds,
            },
        )

    @post("/{boost_id:int}", status_code=303)
    async def act(self, request: Request, boost_id: FromPath[int], data: Form) -> Redirect:
        action = field(data, "action", max_length=20)
        if action not in STAFF_ACTIONS:
            raise UserError(f"Choose one of: {', '.join(STAFF_ACTIONS)}.")
        viewer = viewer_of(request)
        assert viewer is not None  # the route group's guard saw to that
        await staff_act(boost_id, action, by=viewer.email)
        return Redirect(path=f"/staff/boosts/?done={action}#boost-{boost_id}", status_code=303)

    @post("/settings", status_code=303)
    async def settings(self, request: Request, data: Form) -> Redirect:
        viewer = viewer_of(request)
        if viewer is None or not viewer.has_role("admin"):
            raise Forbidden("Only an admin can change the boost settings.")
        values: dict[str, object] = {}
        for key in BOOST_POLICIES:
            raw = field(data, key, max_length=10)
            if not raw and key in OPTIONAL_POLICIES:
                continue
            choices = POLICIES[key].choices
            chosen = next((c for c in choices if str(c) == raw), None)
            if chosen is None:
                label = key.removeprefix("boost_").replace("_", " ")
                raise UserError(f"Choose the {label} from the list ({', '.join(str(c) for c in choices)}).")
            values[key] = chosen
        await set_policies(values)
        return Redirect(path="/staff/boosts/?done=settings", status_code=303)
