"""`groundswell mail …`: campaign mail from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from core.cli.errors import friendly_errors


@click.group()
def mail() -> None:
    """Campaign mail: bounces, complaints and mailto unsubscribes."""


@mail.command("bounces")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@friendly_errors
def bounces_command(files: tuple[Path, ...]) -> None:
    """Read bounces (RFC 3464 DSNs), spam complaints (ARF) and mailto unsubscribe requests
    from FILES: mbox files, single .eml messages, Maildirs or directories of .eml files
    (your bounce mailbox). Hard-bounced and complaining addresses are never mailed again; 3 soft
    bounces within 30 days count as a hard one. Reading the same file twice is harmless."""
    from core.cli.main import _settings, _with_database
    from core.mailings.bounce_reports import check_readable
    from core.mailings.bounces import process_files

    _settings()
    for path in files:  # before touching the database: a typo fails fast, with one line
        check_readable(path)
    summary = _with_database(process_files(files))
    click.echo(summary.line())
