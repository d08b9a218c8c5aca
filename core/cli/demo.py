"""`groundswell demo`: fill an instance with fictional campaigns to look around in."""

from __future__ import annotations

import click

from core.cli.errors import friendly_errors


@click.command()
@friendly_errors
def demo() -> None:
    """Load fictional groups, petitions and signatures (safe to repeat)."""
    from core.cli.main import _settings, _with_database
    from core.demo import load_demo

    settings = _settings()
    click.echo(_with_database(load_demo()))
    click.echo(f"Open {settings.public_url}/petitions to look around.")
