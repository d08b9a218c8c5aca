"""Which plugins run, and why not: a broken plugin is disabled with one line, never the instance."""

import json

import pytest

from core.plugins.declaration import Plugin, PluginDeclarationError
from core.plugins.host import activate, installed_plugins, plugin_statuses
from core.plugins.switches import set_disabled_by_admin
from core.plugins.versioning import API_VERSION, incompatibility
from tests.core.plugins.conftest import plugins_installed, running_app
from tests.core.plugins.fake_greeter.plugin import greeter


def status_of(name: str):
    return next(s for s in plugin_statuses() if s.name == name)


def broken_migration_plugin() -> Plugin:
    return Plugin(
        name="broken",
        version="0.1.0",
        requires_api="1.0",
        piccolo_app="tests.core.plugins.fake_broken.piccolo_app",
    )


def test_a_well_formed_plugin_is_enabled_with_its_config():
    with installed_plugins([greeter()]):
        status = status_of("greeter")
    assert (status.status, status.reason, status.version, status.requires_api) == (
        "enabled",
        "",
        "1.2.3",
        "1.0",
    )
    assert status.config == {}


def test_an_entry_point_that_is_not_a_plugin_is_an_invalid_manifest():
    with installed_plugins({"notes": {"name": "notes", "version": "1"}}):
        status = status_of("notes")
    assert status.status == "error"
    assert status.reason == "invalid manifest: the entry point gives a dict, not a core.plugin_api.Plugin"


def test_a_declaration_that_fails_its_checks_is_an_invalid_manifest_naming_the_field():
    with pytest.raises(PluginDeclarationError) as raised:
        Plugin(name="Bad Name", version="1", requires_api="1.0")
    with installed_plugins({"bad": raised.value}):
        status = status_of("bad")
    assert status.status == "error"
    assert status.reason.startswith("invalid manifest: PluginDeclarationError: name must be 2-40 lowercase")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("requires_api", ">=1", "requires_api must look like '1.0'"),
        ("events", {"signature.create": print}, "unknown event(s) signature.create"),
        ("templates_dir", "/no/such/dir", "templates_dir '/no/such/dir' is not a directory"),
        ("routes", ["not routes"], "routes holds 'not routes', not a Routes"),
    ],
)
def test_declaration_mistakes_say_what_to_fix(field, value, message):
    with pytest.raises(
        PluginDeclarationError, match="plugin greeter: " + message.replace("(", r"\(").replace(")", r"\)")
    ):
        greeter(**{field: value})


def test_a_plugin_whose_entry_point_name_differs_from_its_name_is_refused():
    with installed_plugins({"hello": greeter()}):
        status = status_of("hello")
    assert status.reason == "invalid manifest: the entry point is named 'hello' but the plugin 'greeter'"


def test_an_import_error_in_a_plugin_disables_it_with_the_error():
    with installed_plugins({"greeter": ModuleNotFoundError("No module named 'stripe'")}):
        status = status_of("greeter")
    assert status.reason == "invalid manifest: ModuleNotFoundError: No module named 'stripe'"


def test_an_incompatible_api_version_is_refused_with_a_clear_message():
    assert API_VERSION == "1.2"
    with installed_plugins([greeter(requires_api="2.0")]):
        status = status_of("greeter")
    assert status.status == "error"
    assert status.reason == "needs plugin API 2.0, but this Groundswell provides 1.2: upgrade Groundswell"
    assert (
        incompatibility("1.3")
        == "needs plugin API 1.3, but this Groundswell provides 1.2: upgrade Groundswell"
    )
    assert incompatibility("0.9") == (
        "needs plugin API 0.9, but this Groundswell provides 1.2: "
        "install a release of the plugin written for plugin API 1.x"
    )
    assert incompatibility("1.0") is None
    assert incompatibility("1.0", provided="1.4") is None


def test_a_plugin_not_listed_in_groundswell_plugins_is_disabled(monkeypatch):
    monkeypatch.setattr("core.plugins.host._settings_plugins", lambda: ("other",))
    with installed_plugins([greeter()]):
        statuses = {s.name: s for s in plugin_statuses()}
    assert (statuses["greeter"].status, statuses["greeter"].reason) == (
        "disabled",
        "not listed in GROUNDSWELL_PLUGINS",
    )
    assert (statuses["other"].status, statuses["other"].reason) == (
        "error",
        "listed in GROUNDSWELL_PLUGINS but not installed",
    )


def test_two_packages_declaring_the_same_name_are_both_refused():
    from core.plugins.host import Installed

    with installed_plugins([greeter()]):
        import core.plugins.host as host

        host._source = lambda: [Installed("greeter", greeter()), Installed("greeter", greeter(version="9"))]
        host.reset()
        status = status_of("greeter")
    assert (
        status.status == "error"
        and "two installed packages declare a plugin named 'greeter'" in status.reason
    )


def test_a_config_failing_its_schema_disables_the_plugin_naming_file_and_path(data_dir):
    config = data_dir / "plugins" / "greeter.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text(json.dumps({"greeting": "x" * 50}))
    try:
        with installed_plugins([greeter()]):
            status = status_of("greeter")
        assert status.status == "error"
        assert status.reason == f"config {config} at greeting: '{'x' * 50}' is too long"
        config.write_text("{not json")
        with installed_plugins([greeter()]):
            assert status_of("greeter").reason.startswith(f"{config} is not valid JSON")
        config.write_text(json.dumps({"greeting": "Hi"}))
        with installed_plugins([greeter()]):
            assert status_of("greeter").config == {"greeting": "Hi"}
    finally:
        config.unlink()


def test_an_invalid_config_schema_is_the_plugin_authors_error():
    with installed_plugins([greeter(config_schema={"type": "no-such-type"})]):
        status = status_of("greeter")
    assert status.reason.startswith("the plugin's config_schema is not a valid JSON Schema:")


async def test_with_a_bad_config_the_instance_still_serves_and_the_plugin_page_is_gone(data_dir):
    config = data_dir / "plugins" / "greeter.json"
    config.parent.mkdir(exist_ok=True)
    config.write_text(json.dumps({"greeting": 42}))
    try:
        async with running_app([greeter()]) as client:
            assert (await client.get("/")).status_code == 200
            assert (await client.get("/plugins/greeter/")).status_code == 404
            assert status_of("greeter").reason == f"config {config} at greeting: 42 is not of type 'string'"
    finally:
        config.unlink()


async def test_a_failing_migration_disables_the_plugin_and_the_instance_still_starts():
    from core.db import migrate

    with installed_plugins([broken_migration_plugin(), greeter()]):
        report = await migrate()
        assert "plugin broken" in report and "failed" in report
        broken = status_of("broken")
        assert broken.status == "error"
        assert broken.reason.startswith("its migration failed: ")
        assert "broken_missing_table" in broken.reason
        assert status_of("greeter").enabled  # another plugin's failure changes nothing here
    async with running_app([broken_migration_plugin(), greeter()]) as client:
        assert (await client.get("/")).status_code == 200
        assert (await client.get("/plugins/greeter/")).status_code == 200
        # A later start (another process) finds the migration still pending and says so.
        assert status_of("broken").status == "error"


async def test_a_plugin_with_unapplied_migrations_does_not_run_until_migrated():
    with installed_plugins([broken_migration_plugin()]):
        await activate()
        status = status_of("broken")
    assert status.status == "error"
    assert status.reason == (
        "its migrations have not been applied (2026-01-01T00:00:00:000000); "
        "run `groundswell migrate` and read its output"
    )


async def test_an_admin_can_switch_a_plugin_off_for_the_next_start():
    async with plugins_installed([greeter()]):
        await set_disabled_by_admin({"greeter"})
        await activate()
        assert (status_of("greeter").status, status_of("greeter").reason) == (
            "disabled",
            "disabled by an admin (/admin/plugins)",
        )
        await set_disabled_by_admin(set())
        await activate()
        assert status_of("greeter").enabled


async def test_a_task_module_that_cannot_be_imported_disables_its_plugin():
    from core.tasks.worker import load_handlers

    async with plugins_installed([greeter(task_modules=["tests.core.plugins.no_such_module"])]):
        await activate()
        load_handlers()
        status = status_of("greeter")
    assert status.status == "error"
    assert status.reason.startswith("its task module tests.core.plugins.no_such_module cannot be imported")


def test_a_plugins_click_commands_join_the_groundswell_command(monkeypatch):
    import sys

    import click
    from click.testing import CliRunner

    from core.cli.plugins import add_plugin_commands

    serve = click.Command("serve", callback=lambda: click.echo("core serve"))
    group = click.Group(commands=[serve])
    squatter = greeter(
        name="squatter", piccolo_app=None, routes=[], nav_items=[], commands=[click.Command("serve")]
    )
    monkeypatch.setattr(sys, "argv", ["groundswell", "greeter-hello"])
    with installed_plugins([greeter(), squatter]):
        add_plugin_commands(group)
    assert CliRunner().invoke(group, ["greeter-hello"]).output == "hello from greeter\n"
    assert group.commands["serve"] is serve  # a plugin never replaces a core command
    monkeypatch.setattr(sys, "argv", ["groundswell", "serve", "--port", "9000"])
    other = click.Group(commands=[serve])
    with installed_plugins([greeter()]):
        add_plugin_commands(other)  # a core command runs without loading plugins
    assert set(other.commands) == {"serve"}
