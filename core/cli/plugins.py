"""`groundswell plugins …`: what is installed and whether it runs; a new plugin package."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import click

from core.cli.errors import EXIT_CONFIG, fail, friendly_errors


@click.group()
def plugins() -> None:
    """Plugins: list them, or start a new one."""


async def _activate() -> str:
    """Apply what needs the database (admin switches, migrations); a note if unreachable."""
    from core.db import check_database
    from core.db.engine import DatabaseUnavailable
    from core.plugins.host import activate

    try:
        await check_database()
    except DatabaseUnavailable as exc:
        return f"note: {exc}; admin switches and migrations are not reflected"
    await activate()
    return ""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per plugin, in a list.")
@friendly_errors
def list_plugins(as_json: bool) -> None:
    """Installed plugins: name, version, plugin API needed, enabled, and why not."""
    from core.cli.logs import configure_logging
    from core.plugins.host import plugin_statuses
    from core.plugins.versioning import API_VERSION
    from core.settings import current_settings

    configure_logging(current_settings().log_level)
    # The table shows every reason; the same reasons logged as errors would only repeat it.
    logging.getLogger("groundswell.plugins").setLevel(logging.CRITICAL)
    note = asyncio.run(_activate())
    statuses = plugin_statuses()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "version": s.version,
                        "requires_api": s.requires_api,
                        "enabled": s.enabled,
                        "status": s.status,
                        "reason": s.reason,
                        "distribution": s.distribution,
                    }
                    for s in statuses
                ],
                indent=2,
            )
        )
    elif not statuses:
        click.echo(f"No plugins installed (plugin API {API_VERSION}).")
    else:
        rows = [("NAME", "VERSION", "API", "ENABLED", "REASON")] + [
            (s.name, s.version or "-", s.requires_api or "-", "yes" if s.enabled else "no", s.reason)
            for s in statuses
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
        click.echo(f"(plugin API {API_VERSION})")
    if note:
        click.echo(note, err=True)


@plugins.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the package directory.",
)
def new_plugin_command(name: str, directory: Path) -> None:
    """Create a new plugin package, groundswell-NAME, that installs and passes its tests."""
    from core.plugins.scaffold import ScaffoldError, check_name, new_plugin

    try:
        target = new_plugin(name, directory)
    except ScaffoldError as exc:
        fail(str(exc), EXIT_CONFIG)
        return
    names = check_name(name)
    click.echo(f"Created {target} (package {names.package}, plugin {names.name}).")
    click.echo("Next:")
    click.echo(f"  cd {target}")
    click.echo("  pip install -e '.[test]'   # into the environment where groundswell is installed")
    click.echo("  pytest                     # a temporary instance running the plugin")
    click.echo("  groundswell migrate        # then restart your instance; see docs/plugins.md")


def add_plugin_commands(group: click.Group) -> None:
    """Add enabled plugins' commands (e.g. `groundswell federation …`). A command that is
    not a click command, or whose name is taken, is left out with a logged reason; the CLI
    itself always works."""
    log = logging.getLogger("groundswell.plugins")
    invoked = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if invoked in group.commands:
        # A core command: finding plugins would read the settings before the command sets
        # its own defaults (`serve` derives GROUNDSWELL_PUBLIC_URL from --port).
        return
    try:
        from core.plugins.host import loadable_plugins
        from core.settings import current_settings

        loaded = loadable_plugins()
        current_settings.cache_clear()  # the command reads them afresh
    except Exception as exc:  # bad settings: the command that runs reports them
        log.debug("plugin commands not loaded: %s", exc)
        return
    for plugin in loaded:
        for command in plugin.commands:
            if not isinstance(command, click.Command) or not command.name:
                log.error("plugin %s: %r is not a click command; left out", plugin.name, command)
            elif command.name in group.commands:
                log.error("plugin %s: command %r is already taken; left out", plugin.name, command.name)
            else:
                group.add_command(command)
