"""Importing members from a CSV file, streamed: read line by line, written in batches.

Memory stays flat however long the file is: rows are validated one at a time and upserted
BATCH_SIZE at a time, one transaction per batch (so a batch is stored whole or not at all).
The addresses already seen in this file are remembered in a private temporary SQLite file,
not in a Python set.

Rules (docs/operators.md, "Importing members", says the same for operators):

- A person is their normalized address (`email_key`): `Ada.Lovelace+news@Gmail.com` updates
  the person stored as `adalovelace@gmail.com`.
- New people are created `subscribed`; consent flags are only set where a consent column says
  yes (no column, or an empty cell, means no consent: an import never invents consent).
- Existing people: a non-empty cell replaces the stored value, an empty cell never clears one.
  The stored address (where mail goes), `source` and creation time are kept.
- Consent columns: yes grants the consent; no never withdraws one already given (as when
  signing): an opt-out is recorded through a `subscription` column instead.
- `subscription` only moves away from `subscribed`: an import records an opt-out or a bounce,
  it never re-subscribes anyone.
- A row whose address appeared earlier in the same file is *merged* into the first one: it only
  fills text fields still empty, and adds its tags, consents and opt-outs. The first row for an
  address wins, which keeps a re-import idempotent (it reports every row unchanged).
- Tags are matched case-insensitively, created when missing, and never removed by an import.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.errors import UserError
from core.people.member_csv import (
    CONSENT_FIELDS,
    LIMITS,
    TEXT_FIELDS,
    Column,
    ImportFileError,
    MemberRow,
    MembersCsv,
    RowError,
    clean_tag_names,
    default_source,
)
from core.people.tables import Person, Tag, Tagging
from core.plugins.events import emit, handled

__all__ = ["ImportFileError", "ImportSummary", "MembersCsv", "RowError", "import_members"]

BATCH_SIZE = 500
ERRORS_KEPT = 50


@dataclass
class ImportSummary:
    file: str
    encoding: str
    delimiter: str
    columns: list[Column]
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0  # rows repeating an address seen earlier in the file
    skipped: int = 0  # rows with an error
    errors: list[RowError] = field(default_factory=list)  # the first ERRORS_KEPT
    legacy_lines: int = 0  # lines that were not UTF-8, read as Windows-1252
    first_legacy_line: int | None = None

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.merged + self.skipped

    @property
    def ignored_columns(self) -> list[Column]:
        return [c for c in self.columns if c.field is None]


class _SeenAddresses:
    """The email keys met so far in this file, in a private temporary SQLite database (it
    stays in a small page cache and spills to a temporary file), so a million-row file does
    not need a million-entry set in memory."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")

    def among(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            query = f"SELECT key FROM seen WHERE key IN ({','.join('?' * len(chunk))})"  # noqa: S608
            found.update(key for (key,) in self._db.execute(query, chunk))
        return found

    def add(self, keys: Iterable[str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO seen (key) VALUES (?)", ((k,) for k in keys))

    def close(self) -> None:
        self._db.close()


@dataclass
class _Plan:
    """What one batch does to one person."""

    person_id: int | None  # None: a new person
    values: dict[str, Any]
    before: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)  # casefolded name → name


_STORED = (
    Person.id,
    Person.email_key,
    Person.subscription,
    *(getattr(Person, f) for f in (*TEXT_FIELDS, *CONSENT_FIELDS)),
)


def _merge(values: dict[str, Any], row: MemberRow, *, first: bool) -> None:
    """Apply a row to a person's values (see the rules in the module docstring)."""
    for name, value in row.values.items():
        if name == "subscription":
            if value != "subscribed" and values["subscription"] == "subscribed":
                values[name] = value
        elif name in CONSENT_FIELDS:
            if value:
                values[name] = True
        elif name != "source" and (first or not values[name]):
            values[name] = value


async def _insert(
    table: type[Person | Tagging], rows: list[dict[str, Any]], *, conflict: str, returning: str = ""
) -> list[dict[str, Any]]:
    """One multi-row INSERT … ON CONFLICT DO NOTHING. Piccolo's Insert builds a query string per
    row object, which took most of an import's time; this keeps only the parameter binding."""
    columns = list(rows[0])
    marks = "(" + ", ".join("{}" for _ in columns) + ")"
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join([marks] * len(rows))  # the values themselves are bound parameters
    sql = (
        f'INSERT INTO "{table._meta.tablename}" ({names}) VALUES {values} ON CONFLICT ({conflict}) DO NOTHING'  # noqa: S608
    )
    if returning:
        sql += f" RETURNING {returning}"
    return await table.raw(sql, *(row[c] for row in rows for c in columns))


class _Importer:
    def __init__(self, source: MembersCsv, *, origin: str, tags: tuple[str, ...], dry_run: bool) -> None:
        self.csv = source
        self.origin = origin
        self.extra_tags = tags
        self.dry_run = dry_run
        self.seen = _SeenAddresses()
        self.tag_ids: dict[str, int] = {}  # casefolded name → id
        self.summary = ImportSummary(
            file=source.name,
            encoding=source.encoding,
            delimiter=source.delimiter,
            columns=source.columns,
            dry_run=dry_run,
        )

    async def load_tags(self) -> None:
        for row in await Tag.select(Tag.id, Tag.name):
            self.tag_ids.setdefault(row["name"].casefold(), row["id"])

    def new_person(self, row: MemberRow) -> dict[str, Any]:
        values: dict[str, Any] = dict.fromkeys(TEXT_FIELDS, "")
        values.update(dict.fromkeys(CONSENT_FIELDS, False))
        values.update(
            email=row.email,
            email_key=row.key,
            subscription="subscribed",
            source=row.values.get("source") or self.origin,
        )
        return values

    async def batch(self, rows: list[MemberRow]) -> None:
        """Plan and write one batch in one transaction: looked up, decided and written
        together (on SQLite under the write lock), and stored whole or not at all."""
        from core.db import database, write_transaction

        keys = list(dict.fromkeys(row.key for row in rows))
        counts = dict.fromkeys(("created", "updated", "unchanged", "merged"), 0)
        async with database().transaction() if self.dry_run else write_transaction():
            earlier = self.seen.among(keys)
            stored = {
                p["email_key"]: p for p in await Person.select(*_STORED).where(Person.email_key.is_in(keys))
            }
            tagged = await self._taggings([p["id"] for p in stored.values()])
            plans: dict[str, _Plan] = {}
            for row in rows:
                plan = plans.get(row.key)
                first = plan is None and row.key not in earlier
                if plan is None:
                    before = stored.get(row.key)
                    if before is None:
                        plan = _Plan(None, self.new_person(row))
                    else:
                        plan = _Plan(before["id"], dict(before), before=before)
                    plans[row.key] = plan
                _merge(plan.values, row, first=first)
                new_tags = False
                for name in (*row.tags, *self.extra_tags):
                    folded = name.casefold()
                    plan.tags.setdefault(folded, name)
                    new_tags |= (plan.person_id, self.tag_ids.get(folded)) not in tagged
                if not first:
                    counts["merged"] += 1
                elif plan.before is None:
                    counts["created"] += 1
                elif new_tags or plan.values != plan.before:
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            if not self.dry_run:
                await self._write(plans, tagged)
        self.seen.add(keys)
        for name, count in counts.items():
            setattr(self.summary, name, getattr(self.summary, name) + count)

    async def _taggings(self, person_ids: list[int]) -> set[tuple[int | None, int | None]]:
        if not person_ids or not (self.extra_tags or "tags" in self.csv.fields):
            return set()
        rows = await Tagging.select(Tagging.tag, Tagging.person).where(Tagging.person.is_in(person_ids))
        return {(r["person"], r["tag"]) for r in rows}

    async def _write(self, plans: dict[str, _Plan], tagged: set[tuple[int | None, int | None]]) -> None:
        now = datetime.now(UTC)
        new = [p for p in plans.values() if p.person_id is None]
        if new:
            inserted = await _insert(
                Person,
                [{**p.values, "created_at": now, "updated_at": now} for p in new],
                conflict='"email_key"',
                returning="id, email_key",
            )
            for row in inserted:
                plans[row["email_key"]].person_id = row["id"]
            if handled("person.created"):  # one event per new member, in this batch's transaction
                for row in inserted:
                    await emit(
                        "person.created", str(row["id"]), {"person_id": row["id"], "source": self.origin}
                    )
            await self._lost_races([p for p in new if p.person_id is None], now)
        for plan in plans.values():
            if plan.before is not None and plan.person_id is not None:
                changes = {getattr(Person, k): v for k, v in plan.values.items() if plan.before[k] != v}
                if changes:
                    await Person.update({**changes, Person.updated_at: now}).where(
                        Person.id == plan.person_id
                    )
        await self._ensure_tags({n for p in plans.values() for n in p.tags.items()})
        taggings = [
            {"tag": self.tag_ids[folded], "person": plan.person_id, "created_at": now}
            for plan in plans.values()
            for folded in plan.tags
            if (plan.person_id, self.tag_ids[folded]) not in tagged
        ]
        if taggings:
            await _insert(Tagging, taggings, conflict='"tag", "person"')

    async def _lost_races(self, plans: list[_Plan], now: datetime) -> None:
        """People created by someone else (a signature) between our look-up and our insert:
        they get this file's non-empty text fields, like any existing person."""
        if not plans:
            return
        found = await Person.select(Person.id, Person.email_key).where(
            Person.email_key.is_in([p.values["email_key"] for p in plans])
        )
        ids = {r["email_key"]: r["id"] for r in found}
        for plan in plans:
            plan.person_id = ids[plan.values["email_key"]]
            changes = {getattr(Person, k): plan.values[k] for k in TEXT_FIELDS if plan.values[k]}
            if changes:
                await Person.update({**changes, Person.updated_at: now}).where(Person.id == plan.person_id)

    async def _ensure_tags(self, names: set[tuple[str, str]]) -> None:
        missing = {folded: name for folded, name in names if folded not in self.tag_ids}
        if not missing:
            return
        await Tag.insert(*(Tag(name=name) for name in missing.values())).on_conflict(
            target=Tag.name, action="DO NOTHING"
        )
        for row in await Tag.select(Tag.id, Tag.name).where(Tag.name.is_in(list(missing.values()))):
            self.tag_ids.setdefault(row["name"].casefold(), row["id"])

    def error(self, error: RowError, on_error: Callable[[RowError], None] | None) -> None:
        self.summary.skipped += 1
        if len(self.summary.errors) < ERRORS_KEPT:
            self.summary.errors.append(error)
        if on_error is not None:
            on_error(error)


async def import_members(
    file: MembersCsv | str | os.PathLike[str],
    *,
    source: str | None = None,
    tags: Iterable[str] = (),
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
    on_error: Callable[[RowError], None] | None = None,
) -> ImportSummary:
    """Import the members in a CSV file (see the module docstring for the rules). Bad rows
    are skipped and reported (`on_error` hears every one, the summary keeps the first
    ERRORS_KEPT); `on_progress` hears the bytes read so far after each batch. With `dry_run`
    nothing is written, but the counts are what a real import would report."""
    origin = (source if source is not None else default_source(getattr(file, "path", file))).strip()
    if len(origin) > LIMITS["source"]:
        raise UserError(f"The source is longer than {LIMITS['source']} characters.")
    extra_tags = clean_tag_names(tags)
    opened = file if isinstance(file, MembersCsv) else MembersCsv(file)
    importer = _Importer(opened, origin=origin, tags=extra_tags, dry_run=dry_run)
    try:
        await importer.load_tags()
        pending: list[MemberRow] = []
        for record in opened.records():
            if isinstance(record, RowError):
                importer.error(record, on_error)
                continue
            pending.append(record)
            if len(pending) >= batch_size:
                await importer.batch(pending)
                pending = []
                if on_progress is not None:
                    on_progress(opened.bytes_read)
        if pending:
            await importer.batch(pending)
        if on_progress is not None:
            on_progress(opened.size)
    finally:
        importer.seen.close()
        if opened is not file:
            opened.close()
    importer.summary.legacy_lines = opened.legacy_lines
    importer.summary.first_legacy_line = opened.first_legacy_line
    return importer.summary
