"""Reading a CSV file of members: encoding, delimiter and columns worked out from its start,
then one validated row at a time (core.people.importing stores them).

- Encoding: UTF-8 with or without a byte order mark; a line that is not UTF-8 is read as
  Windows-1252 (Latin-1 for its five undefined bytes) and counted, so one stray byte never
  stops an import; UTF-16 with a byte order mark (Excel's "Unicode text"); CR-only line ends.
- Delimiter: the one of , ; TAB | the header line uses most (outside quotes).
- Columns: by name, compared without case, spaces or punctuation (COLUMN_NAMES); others are
  reported as ignored.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.people.emails import InvalidEmail, clean_email, email_key
from core.people.tables import SUBSCRIPTION_STATUSES, Person, Tag

READ_CHUNK_BYTES = 1 << 20  # the longest piece of a line read at once
SNIFF_BYTES = 8192
DELIMITERS = (",", ";", "\t", "|")

# Each field a column can fill, and the column names that mean it. Headers are compared
# without case, spaces or punctuation: "E-mail", "Email Address" and "ZIP code" all match.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_address", "e-mail", "mail", "primary_email", "email1"),
    "given_name": ("first_name", "given_name", "first", "forename", "fname"),
    "family_name": ("last_name", "family_name", "surname", "last", "lname"),
    "postal_code": ("zip", "zip_code", "zipcode", "zip5", "postal_code", "postcode", "post_code"),
    "locality": ("city", "locality", "town", "suburb"),
    "region": ("state", "state_code", "region", "province"),
    "district": ("district", "electorate"),
    "country": ("country", "country_code"),
    "phone": ("phone", "phone_number", "mobile", "mobile_phone", "cell", "cell_phone", "telephone"),
    "tags": ("tags", "tag", "labels"),
    "source": ("source",),
    "subscription": ("subscription", "subscription_status"),
    "consent_instance_email": (
        "email_opt_in",
        "opt_in",
        "subscribed",
        "email_consent",
        "consent",
        "can_email",
    ),
    "consent_national": ("national_opt_in", "consent_national"),
    "consent_share_with_creators": ("share_with_creators", "consent_share_with_creators"),
}
TEXT_FIELDS = (
    "given_name",
    "family_name",
    "postal_code",
    "locality",
    "country",
    "region",
    "district",
    "phone",
)
CONSENT_FIELDS = ("consent_instance_email", "consent_national", "consent_share_with_creators")
LIMITS = {name: getattr(Person, name).length for name in (*TEXT_FIELDS, "source")}
TAG_LIMIT = Tag.name.length
YES = {"yes", "y", "true", "t", "1", "x", "on", "subscribed", "opted in", "opt in"}
NO = {"no", "n", "false", "f", "0", "off", "unsubscribed", "opted out", "opt out"}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_QUOTED = re.compile(r'"[^"]*"')


def header_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


_ALIASES = {header_key(name): target for target, names in COLUMN_NAMES.items() for name in names}


class ImportFileError(UserError):
    """The file cannot be imported at all (missing, unreadable, not a CSV, no email column)."""


@dataclass(frozen=True)
class Column:
    header: str
    field: str | None  # None: the column is ignored
    note: str = ""


@dataclass(frozen=True)
class RowError:
    line: int  # where the record starts; the header is line 1
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class MemberRow:
    line: int
    email: str
    key: str
    values: dict[str, Any]  # only the fields this row gives (non-empty cells)
    tags: tuple[str, ...]


class MembersCsv:
    """An open CSV file of members, with its encoding, delimiter and columns worked out from
    its first line. Raises ImportFileError when the file cannot be imported at all."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = self.path.name or str(path)
        self._binary = self._open()
        try:
            self._start()
        except BaseException:
            self._binary.close()
            raise

    def __enter__(self) -> MembersCsv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._binary.close()

    @property
    def bytes_read(self) -> int:
        return 0 if self._binary.closed else self._binary.tell()

    def _open(self) -> io.BufferedReader:
        if not self.path.exists():
            raise ImportFileError(f"{self.path} does not exist")
        if self.path.is_dir():
            raise ImportFileError(f"{self.path} is a directory, not a CSV file")
        try:
            return open(self.path, "rb")  # closed by close()
        except OSError as exc:
            raise ImportFileError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def _start(self) -> None:
        self.size = os.fstat(self._binary.fileno()).st_size
        self.legacy_lines = 0
        self.first_legacy_line: int | None = None
        self._complete_lines = 0
        head = self._binary.peek(SNIFF_BYTES)[:SNIFF_BYTES]
        self._text: io.TextIOWrapper | None = None
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            self.encoding = "UTF-16"
            self._text = io.TextIOWrapper(self._binary, encoding="utf-16", errors="replace", newline="")
        else:
            if head.startswith(b"\xef\xbb\xbf"):
                self.encoding = "UTF-8 with BOM"
                self._binary.read(3)
                head = head[3:]
            else:
                self.encoding = "UTF-8"
            self._refuse_binary(head)
            if b"\r" in head and b"\n" not in head:  # old Mac line endings: CR only
                try:
                    head.decode("utf-8")
                except UnicodeDecodeError as exc:
                    if exc.start < len(head) - 3:  # not just a character cut at the end
                        self.encoding = "Windows-1252"
                codec = "cp1252" if self.encoding == "Windows-1252" else "utf-8"
                self._text = io.TextIOWrapper(self._binary, encoding=codec, errors="replace", newline=None)
        lines = self._lines()
        first = next((line for line in lines if line.strip()), None)
        if first is None:
            raise ImportFileError(f"{self.name} is empty: the first line should name the columns")
        self.delimiter = _delimiter_of(first)
        self._reader = csv.reader(itertools.chain([first], lines), delimiter=self.delimiter)
        try:
            header = next(self._reader)
        except csv.Error as exc:
            raise ImportFileError(f"{self.name}: cannot read the first line as CSV: {exc}") from None
        self.columns = _map_columns(header)
        self.fields = [c.field for c in self.columns]
        if "email" not in self.fields:
            found = ", ".join(repr(h.strip()[:40]) for h in header[:12]) + (", …" if len(header) > 12 else "")
            raise ImportFileError(
                f"{self.name} has no email column: name one 'email' (or 'email_address', "
                f"'e-mail'); the first line has {found}"
            )

    def _refuse_binary(self, head: bytes) -> None:
        if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
            raise ImportFileError(
                f'{self.name} is a spreadsheet or archive, not a CSV file: save it as "CSV UTF-8" first'
            )
        if b"\x00" in head:
            raise ImportFileError(f"{self.name} is not a CSV file: it contains binary data")

    def _lines(self) -> Iterator[str]:
        """Decoded lines (very long lines in pieces), counting complete lines as they go. A line
        that is not UTF-8 is read as Windows-1252 (or Latin-1), so one stray byte never stops an
        import."""
        while True:
            if self._text is not None:
                text = self._text.readline(READ_CHUNK_BYTES)
            else:
                raw = self._binary.readline(READ_CHUNK_BYTES)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    text = _decode_legacy(raw)
                    self.legacy_lines += 1
                    if self.first_legacy_line is None:
                        self.first_legacy_line = self._complete_lines + 1
            if not text:
                return
            if text.endswith("\n"):
                self._complete_lines += 1
            yield text

    def records(self) -> Iterator[MemberRow | RowError]:
        """Each data row, validated: a _Row, or a RowError saying why it cannot be imported.
        Blank rows are passed over."""
        while True:
            line = self._complete_lines + 1
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(line, f"cannot be read as CSV ({exc})")
                continue
            if not any(cell.strip() for cell in cells):
                continue
            yield self._row(line, cells)

    def _row(self, line: int, cells: list[str]) -> MemberRow | RowError:
        width = len(self.fields)
        if len(cells) < width or any(cell.strip() for cell in cells[width:]):
            return RowError(line, f"has {len(cells)} fields, but the header has {width}")
        values: dict[str, Any] = {}
        tags: tuple[str, ...] = ()
        address = key = ""
        for column, target, raw in zip(self.columns, self.fields, cells, strict=False):
            if target is None:
                continue
            cell = raw.strip()
            if not cell:
                continue
            if _CONTROL.search(cell):
                return RowError(line, f"{column.header!r} contains control characters (binary data?)")
            if target == "email":
                try:
                    address = clean_email(cell)
                    key = email_key(address)
                except InvalidEmail as exc:
                    return RowError(line, str(exc).rstrip("."))
            elif target == "tags":
                tags = _split_tags(cell)
                too_long = next((t for t in tags if len(t) > TAG_LIMIT), None)
                if too_long:
                    return RowError(line, f"tag {too_long[:40]!r}… is longer than {TAG_LIMIT} characters")
            elif target in CONSENT_FIELDS:
                answer = _yes_or_no(cell)
                if answer is None:
                    return RowError(line, f"{cell[:40]!r} in {column.header!r} is not yes or no")
                values[target] = answer
            elif target == "subscription":
                if cell.lower() not in SUBSCRIPTION_STATUSES:
                    return RowError(
                        line,
                        f"{cell[:40]!r} in {column.header!r} is not one of "
                        + ", ".join(SUBSCRIPTION_STATUSES),
                    )
                values[target] = cell.lower()
            else:
                if target == "country":
                    cell = cell.upper()
                    if not re.fullmatch(r"[A-Z]{2}", cell):
                        return RowError(
                            line,
                            f"{cell[:40]!r} in {column.header!r} is not a two-letter country code (AU, US…)",
                        )
                if len(cell) > LIMITS[target]:
                    return RowError(
                        line,
                        f"{column.header!r} is too long ({len(cell)} characters, at most {LIMITS[target]})",
                    )
                values[target] = cell
        if not address:
            return RowError(line, "no email address")
        return MemberRow(line, address, key, values, tags)


def _decode_legacy(raw: bytes) -> str:
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return raw.decode("latin-1")


def _delimiter_of(first_line: str) -> str:
    """The delimiter the header line uses most (quoted text aside); a comma if none."""
    unquoted = _QUOTED.sub("", first_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _map_columns(header: list[str]) -> list[Column]:
    columns: list[Column] = []
    used: dict[str, str] = {}
    for index, raw in enumerate(header, start=1):
        name = raw.strip().lstrip("\ufeff") or f"(column {index})"
        target = _ALIASES.get(header_key(name))
        if target is not None and target in used:
            columns.append(Column(name, None, f"{target} already comes from {used[target]!r}"))
        elif target is not None:
            used[target] = name
            columns.append(Column(name, target))
        else:
            columns.append(Column(name, None))
    return columns


def _split_tags(cell: str) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for part in re.split(r"[,;]", cell):
        name = " ".join(part.split())
        if name:
            found.setdefault(name.casefold(), name)
    return tuple(found.values())


def _yes_or_no(cell: str) -> bool | None:
    text = " ".join(cell.lower().replace("-", " ").replace("_", " ").split())
    return True if text in YES else False if text in NO else None


def default_source(path: str | os.PathLike[str]) -> str:
    return f"import:{Path(path).name}"[: LIMITS["source"]]


def clean_tag_names(names: Iterable[str]) -> tuple[str, ...]:
    """Tag names given on the command line (or a form), checked."""
    cleaned: dict[str, str] = {}
    for raw in names:
        name = " ".join(raw.split())
        if not name:
            raise UserError("A tag name cannot be empty.")
        if len(name) > TAG_LIMIT:
            raise UserError(f"Tag {name[:40]!r}… is longer than {TAG_LIMIT} characters.")
        cleaned.setdefault(name.casefold(), name)
    return tuple(cleaned.values())
