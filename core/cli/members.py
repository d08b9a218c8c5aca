"""`groundswell members …`: members (people) from the command line."""

from __future__ import annotations

import contextlib
import csv
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.cli.errors import friendly_errors
from core.errors import UserError

if TYPE_CHECKING:
    from core.people.importing import ImportSummary, MembersCsv, RowError

ERRORS_SHOWN = 50

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_FIELD_NAMES = {
    "given_name": "given name",
    "family_name": "family name",
    "postal_code": "postal code",
    "consent_instance_email": "consent: instance email",
    "consent_national": "consent: national campaigns",
    "consent_share_with_creators": "consent: share with petition creators",
}


@click.group()
def members() -> None:
    """Members (people)."""


@members.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--source", default=None, help="Recorded as new people's source (default: import:FILE).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag every imported person (repeatable).")
@click.option("--dry-run", is_flag=True, help="Read and check everything, save nothing.")
@click.option(
    "--errors-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every bad row (line, reason) to this CSV file.",
)
@friendly_errors
def import_members_command(
    file: Path, source: str | None, tags: tuple[str, ...], dry_run: bool, errors_file: Path | None
) -> None:
    """Import members from a CSV FILE (UTF-8 or Windows-1252, comma, semicolon or tab separated).

    Columns are recognised by name (email, first_name, last_name, zip, city, state, phone,
    tags, …); people are matched by their normalized email. Existing people are updated from
    non-empty cells only. Bad rows are listed by line number and skipped."""
    from core.cli.main import _settings, _with_database
    from core.people.importing import MembersCsv, import_members

    _settings()
    started = time.monotonic()
    with MembersCsv(file) as opened, _errors_writer(errors_file) as write_error, _Progress(opened) as bar:
        summary = _with_database(
            import_members(
                opened,
                source=source,
                tags=tags,
                dry_run=dry_run,
                on_progress=bar.update,
                on_error=write_error,
            )
        )
    seconds = time.monotonic() - started
    _report(summary, seconds, errors_file)


class _Progress:
    """A progress bar over the bytes read, on stderr, shown from the first batch on (so a
    database that is not ready fails with its one line and no bar before it)."""

    def __init__(self, opened: MembersCsv) -> None:
        self.opened = opened
        self.bar: Any = None
        self.done = 0

    def __enter__(self) -> _Progress:
        return self

    def update(self, position: int) -> None:
        if self.bar is None:
            label = f"Importing {self.opened.name}"
            self.bar = click.progressbar(length=max(self.opened.size, 1), label=label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(max(0, position - self.done))
        self.done = max(self.done, position)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@contextlib.contextmanager
def _errors_writer(path: Path | None) -> Iterator[Callable[[RowError], None] | None]:
    """A callback writing each bad row to the --errors-file CSV (or None without one)."""
    if path is None:
        yield None
        return
    try:
        handle = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UserError(f"cannot write the errors file {path}: {exc.strerror or exc}") from None
    with handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "reason"])
        yield lambda error: writer.writerow([error.line, error.message])


def _report(summary: ImportSummary, seconds: float, errors_file: Path | None) -> None:
    out = click.echo
    encoding = summary.encoding
    if summary.legacy_lines:
        count = summary.legacy_lines
        lines = f"{count:,} line{'s' if count != 1 else ''} (first: line {summary.first_legacy_line})"
        click.echo(
            f"warning: {lines} {'were' if count != 1 else 'was'} not UTF-8 and "
            f"{'were' if count != 1 else 'was'} read as Windows-1252; check accented names, "
            "or save the file as CSV UTF-8",
            err=True,
        )
        encoding = f"{encoding}, {count:,} line{'s' if count != 1 else ''} Windows-1252"
    for error in summary.errors[:ERRORS_SHOWN]:
        click.echo(str(error), err=True)
    if summary.skipped > ERRORS_SHOWN:
        more = summary.skipped - ERRORS_SHOWN
        hint = f" (all in {errors_file})" if errors_file else " (list them all with --errors-file PATH)"
        click.echo(f"… and {more:,} more{hint}", err=True)
    delimiter = _DELIMITER_NAMES.get(summary.delimiter, repr(summary.delimiter))
    out(
        f"{'Dry run, nothing was saved: ' if summary.dry_run else ''}{summary.file}: "
        f"{summary.rows:,} rows in {seconds:.1f}s ({encoding}, {delimiter}-separated)"
    )
    would = "would be " if summary.dry_run else ""
    out(
        f"  {summary.created:,} {would}created, {summary.updated:,} {would}updated, "
        f"{summary.unchanged:,} unchanged"
    )
    if summary.merged:
        out(f"  {summary.merged:,} repeated an earlier row's email address and {would}merged into it")
    out(f"  {summary.skipped:,} skipped (bad rows{', listed above' if summary.skipped else ''})")
    mapped = [f"{c.header} → {_FIELD_NAMES.get(c.field, c.field)}" for c in summary.columns if c.field]
    out(f"Columns: {', '.join(mapped)}")
    ignored = summary.ignored_columns
    if ignored:
        out(
            "Ignored columns: " + ", ".join(f"{c.header} ({c.note})" if c.note else c.header for c in ignored)
        )
