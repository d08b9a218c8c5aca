"""The admin's plugin page: what is installed, what runs and why not, and the per-instance
switch. Switches take effect when the instance restarts (routes are fixed when it starts)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from core.plugins.host import DISABLED, plugin_statuses
from core.plugins.switches import disabled_by_admin, set_disabled_by_admin
from core.plugins.versioning import API_VERSION
from core.web.forms import Form


def _switchable() -> list[str]:
    """Plugins an admin may turn on or off: installed, well-formed and allowed by the
    environment (GROUNDSWELL_PLUGINS decides the others)."""
    return [
        s.name
        for s in plugin_statuses()
        if s.plugin is not None and not (s.status == DISABLED and "GROUNDSWELL_PLUGINS" in s.reason)
    ]


class PluginAdmin(Controller):
    path = "/admin/plugins"
    include_in_schema = False

    @get("/")
    async def index(self, saved: FromQuery[str] = "") -> Template:
        switched_off = await disabled_by_admin()
        rows = []
        switchable = set(_switchable())
        for status in plugin_statuses():
            wanted_on = status.name not in switched_off
            running = status.enabled
            rows.append(
                {
                    "status": status,
                    "switchable": status.name in switchable,
                    "on": wanted_on,
                    "restart": status.name in switchable
                    and (running != wanted_on)
                    and (running or status.status == DISABLED),
                }
            )
        return Template(
            template_name="admin/plugins.html",
            context={"rows": rows, "api_version": API_VERSION, "saved": bool(saved)},
        )

    @post("/", status_code=303)
    async def save(self, data: Form) -> Redirect:
        chosen = data.get("enabled", [])
        chosen = {chosen} if isinstance(chosen, str) else {str(c) for c in chosen}
        switchable = set(_switchable())
        previous = await disabled_by_admin()
        # Plugins not on the page (uninstalled since) keep their switch.
        await set_disabled_by_admin((previous - switchable) | (switchable - chosen))
        return Redirect(path="/admin/plugins?saved=1", status_code=303)
