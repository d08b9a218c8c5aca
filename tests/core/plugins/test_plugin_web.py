"""What a plugin adds to the web app: pages (public and guarded), templates a theme can
override, static files, navigation, action panels after signing, OSDI links, the admin page."""

from __future__ import annotations

import logging

import pytest
from litestar import get

from core.plugin_api import API_VERSION, ActionPanel, Plugin, Routes
from core.plugins.host import plugin_statuses
from tests.core.plugins.conftest import plugins_installed, running_app
from tests.core.plugins.fake_greeter.plugin import greeter
from tests.support.accounts import sign_in
from tests.support.forms import submit
from tests.support.petitions import published_petition


async def test_a_plugin_page_is_served_with_its_template_inside_the_site(greeter_client):
    page = await greeter_client.get("/plugins/greeter/")
    assert page.status_code == 200
    assert "<h1>Hello</h1>" in page.text
    assert 'href="/static/site.css"' in page.text  # it extends the site's base template


async def test_a_guarded_plugin_page_needs_the_role_it_declares(greeter_client):
    assert (await greeter_client.get("/plugins/greeter/admin/", follow_redirects=False)).status_code in (
        401,
        303,
    )
    await sign_in(greeter_client, "lee@example.org", role="leader")
    assert (await greeter_client.get("/plugins/greeter/admin/")).status_code == 403
    await sign_in(greeter_client, "ada@example.org", role="admin")
    response = await greeter_client.get("/plugins/greeter/admin/")
    assert response.status_code == 200 and response.text == "greeter settings"


async def test_static_files_are_served_under_the_plugin_prefix(greeter_client):
    response = await greeter_client.get("/plugins/greeter/static/greeter.css")
    assert response.status_code == 200 and ".greeter" in response.text


async def test_a_theme_overrides_a_plugin_template_and_static_file_by_path(tmp_path, monkeypatch):
    from dataclasses import replace

    from core.settings import current_settings

    (tmp_path / "templates" / "greeter").mkdir(parents=True)
    (tmp_path / "templates" / "greeter" / "hello.html").write_text("themed greeter page")
    (tmp_path / "static" / "plugins" / "greeter").mkdir(parents=True)
    (tmp_path / "static" / "plugins" / "greeter" / "greeter.css").write_text("/* themed */")
    themed = replace(current_settings(), theme_dir=tmp_path)
    monkeypatch.setattr("core.web.app.current_settings", lambda: themed)
    async with running_app([greeter()]) as client:
        assert (await client.get("/plugins/greeter/")).text == "themed greeter page"
        assert (await client.get("/plugins/greeter/static/greeter.css")).text == "/* themed */"


async def test_navigation_items_appear_for_the_roles_they_name(greeter_client):
    home = await greeter_client.get("/")
    assert '<a href="/plugins/greeter/">Greetings</a>' in home.text
    await sign_in(greeter_client, "ada@example.org", role="admin")
    admin = await greeter_client.get("/admin/")
    assert '<a href="/plugins/greeter/admin/">Greeter settings</a>' in admin.text
    assert '<a href="/admin/plugins">Plugins</a>' in admin.text


async def test_after_signing_the_plugins_action_panels_are_offered(greeter_client):
    petition = await published_petition()
    page = await submit(
        greeter_client,
        f"/p/{petition.slug}",
        f"/p/{petition.slug}/sign",
        {"name": "Sam Signer", "email": "sam@example.org"},
    )
    assert page.status_code == 200
    assert "Thank you for signing" in page.text
    assert "<h2" in page.text and "Call your target</h2>" in page.text
    assert f"Call the Mayor about {petition.title}, Sam." in page.text


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_a_failing_action_panel_provider_is_left_out_and_signing_still_thanks():
    recorded = Recorded()
    logging.getLogger("groundswell.plugins").addHandler(recorded)

    async def broken_provider(context):
        raise RuntimeError("the calls service is down")

    async def broken_template(context):
        return [ActionPanel(title="Missing", template="greeter/no_such.html")]

    failing = Plugin(
        name="failing", version="1", requires_api="1.0", action_panels=[broken_provider, broken_template]
    )
    async with running_app([failing, greeter()]) as client:
        petition = await published_petition()
        page = await submit(
            client,
            f"/p/{petition.slug}",
            f"/p/{petition.slug}/sign",
            {"name": "Sam", "email": "sam@example.org"},
        )
    assert page.status_code == 200
    assert "Thank you for signing" in page.text and "Call your target" in page.text
    assert "Missing" not in page.text
    logging.getLogger("groundswell.plugins").removeHandler(recorded)
    failures = [m for m in recorded.messages if "action panel provider" in m]
    assert len(failures) == 2 and all("of plugin failing failed; left out" in m for m in failures)


async def test_the_osdi_entry_point_links_the_plugins_resources(greeter_client):
    from core.accounts.api_tokens import create_api_token_for_email
    from core.accounts.logins import ensure_login

    await ensure_login("api@example.org", "member")
    token = await create_api_token_for_email("api@example.org", "test")
    response = await greeter_client.get("/api/v1/", headers={"OSDI-API-Token": token.secret})
    assert response.status_code == 200
    assert response.json()["_links"]["osdi:greetings"] == {
        "href": "http://testserver.local/api/v1/greetings",
        "title": "Greetings",
    }


async def test_routes_that_clash_with_core_disable_the_plugin_not_the_instance():
    @get("/petitions")
    async def steal() -> str:
        return "mine"

    thief = Plugin(name="thief", version="1", requires_api="1.0", routes=[Routes(handlers=[steal])])
    async with running_app([thief, greeter()]) as client:
        assert "mine" not in (await client.get("/petitions")).text
        status = next(s for s in plugin_statuses() if s.name == "thief")
        assert status.status == "error"
        assert status.reason.startswith("its routes cannot be mounted:")
        assert "/petitions" in status.reason
        assert (await client.get("/plugins/greeter/")).status_code == 200


async def test_the_admin_plugins_page_lists_status_and_switches_take_effect_on_restart():
    from core.plugins.switches import disabled_by_admin
    from core.web.app import create_app
    from tests.support.asgi import app_client

    bad = greeter(
        name="stale", requires_api="2.0", piccolo_app=None, routes=[], nav_items=[], task_modules=[]
    )
    async with plugins_installed([greeter(), bad]):
        async with app_client(create_app()) as client:
            await sign_in(client, "ada@example.org", role="admin")
            page = await client.get("/admin/plugins")
            assert page.status_code == 200
            assert "greeter" in page.text and "1.2.3" in page.text and "enabled" in page.text
            assert (
                f"needs plugin API 2.0, but this Groundswell provides {API_VERSION}: upgrade Groundswell"
                in page.text
            )
            assert "takes effect when the instance restarts" in page.text
            saved = await submit(client, "/admin/plugins", "/admin/plugins", {})  # every box unticked
            assert saved.status_code == 200
            assert "Saved. Changes take effect when the instance restarts." in saved.text
            assert await disabled_by_admin() == {"greeter", "stale"}
            assert "turns off at the next restart" in saved.text
            assert (await client.get("/plugins/greeter/")).status_code == 200  # until the restart
        async with app_client(create_app()) as client:  # the restart
            assert (await client.get("/plugins/greeter/")).status_code == 404
            await sign_in(client, "ada@example.org", role="admin")
            page = await client.get("/admin/plugins")
            assert "disabled by an admin" in page.text
            saved = await submit(client, "/admin/plugins", "/admin/plugins", {"enabled": "greeter"})
            assert "turns on at the next restart" in saved.text
            assert await disabled_by_admin() == {"stale"}


@pytest.mark.parametrize("role", ["member", "leader", "staff"])
async def test_only_admins_see_the_plugins_page(greeter_client, role):
    await sign_in(greeter_client, f"{role}@example.org", role=role)
    assert (await greeter_client.get("/admin/plugins")).status_code == 403


async def test_a_plugins_background_task_runs_in_the_worker_and_its_page_shows_the_result(greeter_client):
    from core.plugin_api import enqueue
    from tests.support.outbox import wait_for_outbox

    assert await enqueue("greeter.record", "greeter.record:1", {"text": "Hello, Riverside"})
    await wait_for_outbox(topic="greeter.record")
    assert "<li>Hello, Riverside</li>" in (await greeter_client.get("/plugins/greeter/")).text
