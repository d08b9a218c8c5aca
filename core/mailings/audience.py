"""Who a mailing goes to: an audience spec (the JSON in Mailing.audience), checked, described in
words, counted, and resolved into delivery rows.

Resolution is one set-based `INSERT … SELECT` in the database: a mailing to a million members
never brings a million people into Python. The same WHERE clause counts the audience for the
compose page, so the number staff see is the number that will be mailed (give or take members
who change their minds in between).

Everyone who is not subscribed, whose address is suppressed (hard bounce, complaint) or who
turned the mailing's topic off is left out of every audience; the sender checks these again at
send time, because a member may unsubscribe between resolution and sending.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import NotFound, UserError
from core.mailings.tables import MAIL_TOPICS, Delivery, SavedAudience

# The audience kinds, each with its value type. Exactly one per spec.
KINDS = ("petition", "group", "tag", "region", "postal_prefix", "saved", "all")
MAX_EXCLUDED_PETITIONS = 50
MAX_EXCLUDE_DAYS = 365
_POSTAL_PREFIX = re.compile(r"[A-Za-z0-9 ]{1,10}")
_REGION = re.compile(r"[^\x00-\x1f%_]{1,100}")


@dataclass(frozen=True)
class Audience:
    kind: str
    value: int | str | bool
    exclude_signed: tuple[int, ...] = ()
    exclude_mailed_days: int = 0
    # Filled in when a saved audience is expanded: its name, for descriptions.
    saved_name: str = ""

    def to_spec(self) -> dict[str, Any]:
        """The JSON stored in Mailing.audience."""
        spec: dict[str, Any] = {self.kind: self.value}
        if self.exclude_signed:
            spec["exclude_signed"] = list(self.exclude_signed)
        if self.exclude_mailed_days:
            spec["exclude_mailed_days"] = self.exclude_mailed_days
        return spec


def _positive_id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise UserError(f"Choose a {what} from the list (got {str(value)[:40]!r}).")
    number = int(value)
    if not 0 < number < 2**31:
        raise UserError(f"Choose a {what} from the list.")
    return number


def parse_audience(data: Any) -> Audience:
    """The audience described by `data`, or a UserError saying what is wrong with it."""
    if isinstance(data, str):
        try:
            data = json.loads(data or "{}")
        except ValueError:
            raise UserError("The audience is not valid JSON.") from None
    if not isinstance(data, dict):
        raise UserError("Choose who receives this mailing.")
    unknown = set(data) - set(KINDS) - {"exclude_signed", "exclude_mailed_days"}
    if unknown:
        raise UserError(f"Unknown audience option(s): {', '.join(sorted(unknown))}.")
    kinds = [kind for kind in KINDS if kind in data]
    if not kinds:
        raise UserError(
            "Choose who receives this mailing: signers of a petition, a group, a tag, a region, "
            "a postal area, a saved audience, or all members."
        )
    if len(kinds) > 1:
        raise UserError(f"Choose one audience, not several ({', '.join(kinds)}).")
    kind = kinds[0]
    raw = data[kind]
    value: int | str | bool
    if kind in ("petition", "group", "tag", "saved"):
        value = _positive_id(raw, {"saved": "saved audience"}.get(kind, kind))
    elif kind == "region":
        value = " ".join(str(raw or "").split())
        if not _REGION.fullmatch(value):
            raise UserError("Enter the region as members have it, e.g. CA (up to 100 characters).")
    elif kind == "postal_prefix":
        value = str(raw or "").strip().upper()
        if not _POSTAL_PREFIX.fullmatch(value):
            raise UserError("Enter the start of a postal code: 1 to 10 letters or digits, e.g. 941.")
    else:
        if raw is not True:
            raise UserError('To mail every member, the audience is {"all": true}.')
        value = True

    excluded = data.get("exclude_signed") or []
    if not isinstance(excluded, list):
        raise UserError("exclude_signed is a list of petition ids.")
    if len(excluded) > MAX_EXCLUDED_PETITIONS:
        raise UserError(f"Exclude the signers of at most {MAX_EXCLUDED_PETITIONS} petitions.")
    exclude_signed = tuple(sorted({_positive_id(item, "petition to exclude") for item in excluded}))

    days = data.get("exclude_mailed_days") or 0
    if isinstance(days, bool) or not isinstance(days, int | str) or not str(days).isdigit():
        raise UserError("“Not mailed in the last N days” takes a whole number of days.")
    days = int(days)
    if days > MAX_EXCLUDE_DAYS:
        raise UserError(f"“Not mailed in the last N days” goes up to {MAX_EXCLUDE_DAYS} days.")
    return Audience(kind, value, exclude_signed, days)


async def expand(audience: Audience) -> Audience:
    """A saved audience replaced by its definition (with both sets of exclusions); anything
    else as it is. NotFound if what it names no longer exists."""
    if audience.kind != "saved":
        await _check_exists(audience)
        return audience
    row = (
        await SavedAudience.select(SavedAudience.name, SavedAudience.spec)
        .where(SavedAudience.id == audience.value)
        .first()
    )
    if row is None:
        raise NotFound("That saved audience no longer exists.")
    inner = parse_audience(row["spec"])
    if inner.kind == "saved":
        raise UserError(f"The saved audience {row['name']!r} refers to another saved audience.")
    await _check_exists(inner)
    return Audience(
        inner.kind,
        inner.value,
        tuple(sorted(set(inner.exclude_signed) | set(audience.exclude_signed))),
        max(inner.exclude_mailed_days, audience.exclude_mailed_days),
        saved_name=row["name"],
    )


async def _check_exists(audience: Audience) -> None:
    from core.groups.tables import Group
    from core.people.tables import Tag
    from core.petitions.tables import Petition

    table = {"petition": Petition, "group": Group, "tag": Tag}.get(audience.kind)
    if table is not None and not await table.exists().where(table.id == audience.value):
        raise NotFound(f"There is no such {audience.kind}.")


async def describe_audience(audience: Audience) -> str:
    """In words, for the compose page and the report: “Signers of “Save the park”, not mailed
    in the last 3 days”."""
    from core.groups.tables import Group
    from core.people.tables import Tag
    from core.petitions.tables import Petition

    saved_name = ""
    if audience.kind == "saved":
        try:
            expanded = await expand(audience)
        except UserError:
            return "A saved audience that no longer exists"
        saved_name, audience = expanded.saved_name, expanded

    async def name_of(table: Any, column: Any, row_id: Any) -> str:
        row = await table.select(column).where(table.id == row_id).first()
        return row[column._meta.name] if row else "(deleted)"

    if audience.kind == "petition":
        words = f"Signers of “{await name_of(Petition, Petition.title, audience.value)}”"
    elif audience.kind == "group":
        words = f"Supporters of {await name_of(Group, Group.name, audience.value)}"
    elif audience.kind == "tag":
        words = f"Members tagged “{await name_of(Tag, Tag.name, audience.value)}”"
    elif audience.kind == "region":
        words = f"Members in {audience.value}"
    elif audience.kind == "postal_prefix":
        words = f"Members with a postal code starting {audience.value}"
    else:
        words = "All subscribed members"
    if saved_name:
        words = f"{saved_name} ({words[0].lower()}{words[1:]})"
    if audience.exclude_signed:
        titles = [await name_of(Petition, Petition.title, pid) for pid in audience.exclude_signed]
        words += ", except signers of " + ", ".join(f"“{t}”" for t in titles)
    if audience.exclude_mailed_days:
        days = audience.exclude_mailed_days
        words += f", not mailed in the last {days} day{'s' if days != 1 else ''}"
    return words


# -- SQL ----------------------------------------------------------------------------------------


def _where(audience: Audience, topic: str, now: datetime) -> tuple[str, list[Any]]:
    """The WHERE clause (on `person p`) selecting the audience, with its parameters.
    `audience` must be expanded (no saved audience)."""
    if topic not in MAIL_TOPICS:
        raise UserError(f"Unknown mail topic {topic!r}.")
    clauses = [
        "p.subscription = 'subscribed'",
        "NOT EXISTS (SELECT 1 FROM suppressed_address s WHERE s.email_key = p.email_key)",
        # topics_off is a JSON list of fixed topic names, so the quoted name is an exact match.
        "NOT EXISTS (SELECT 1 FROM mail_preference mp WHERE mp.person = p.id "
        "AND CAST(mp.topics_off AS TEXT) LIKE {})",
    ]
    params: list[Any] = [f'%"{topic}"%']
    kind, value = audience.kind, audience.value
    if kind == "petition":
        clauses.append(
            "EXISTS (SELECT 1 FROM signature sg WHERE sg.petition = {} AND sg.person = p.id "
            "AND sg.status = 'counted')"
        )
        params.append(value)
    elif kind == "group":
        # A group's supporters: signers of its petitions, and members in its region if it has one.
        clauses.append(
            "(EXISTS (SELECT 1 FROM signature sg JOIN petition pt ON pt.id = sg.petition "
            "WHERE pt.\"group\" = {} AND sg.person = p.id AND sg.status = 'counted') "
            "OR EXISTS (SELECT 1 FROM council_group g WHERE g.id = {} AND g.region <> '' "
            "AND g.region = p.region))"
        )
        params += [value, value]
    elif kind == "tag":
        clauses.append("EXISTS (SELECT 1 FROM tagging tg WHERE tg.tag = {} AND tg.person = p.id)")
        params.append(value)
    elif kind == "region":
        clauses.append("p.region = {}")
        params.append(value)
    elif kind == "postal_prefix":
        clauses.append("UPPER(p.postal_code) LIKE {}")
        params.append(f"{value}%")
    elif kind != "all":
        raise ValueError(f"expand the audience first: {kind}")
    if audience.exclude_signed:
        marks = ", ".join("{}" for _ in audience.exclude_signed)
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM signature xs WHERE xs.person = p.id "  # noqa: S608
            f"AND xs.petition IN ({marks}))"
        )
        params += list(audience.exclude_signed)
    if audience.exclude_mailed_days:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM delivery xd WHERE xd.person = p.id AND xd.status = 'sent' "
            "AND xd.sent_at >= {})"
        )
        params.append(now - timedelta(days=audience.exclude_mailed_days))
    return " AND ".join(clauses), params


async def count_audience(audience: Audience, topic: str = "campaigns") -> int:
    """How many members the audience reaches now."""
    where, params = _where(await expand(audience), topic, datetime.now(UTC))
    rows = await Delivery.raw(f"SELECT COUNT(*) AS n FROM person p WHERE {where}", *params)  # noqa: S608
    return int(rows[0]["n"])


async def sample_person_id(audience: Audience, topic: str = "campaigns") -> int | None:
    """One real member of the audience (the earliest), for previews with real merge fields."""
    where, params = _where(await expand(audience), topic, datetime.now(UTC))
    rows = await Delivery.raw(
        f"SELECT p.id FROM person p WHERE {where} ORDER BY p.id LIMIT 1",  # noqa: S608
        *params,
    )
    return rows[0]["id"] if rows else None


async def is_member(audience: Audience, person_id: int, topic: str = "campaigns") -> bool:
    where, params = _where(await expand(audience), topic, datetime.now(UTC))
    rows = await Delivery.raw(
        f"SELECT 1 AS found FROM person p WHERE p.id = {{}} AND {where}",  # noqa: S608
        person_id,
        *params,
    )
    return bool(rows)


async def resolve_deliveries(mailing_id: int, audience: Audience, topic: str, *, status: str) -> int:
    """Insert a delivery row per audience member (once: a repeat inserts nothing) and return
    how many the mailing has. Run it inside the transaction that starts the mailing."""
    now = datetime.now(UTC)
    where, params = _where(await expand(audience), topic, now)
    await Delivery.raw(
        "INSERT INTO delivery (mailing, person, variant, status, attempts, available_at, "  # noqa: S608
        "lease_until, lease_token, error, created_at) "
        f"SELECT {{}}, p.id, '', {{}}, 0, 0, 0, '', '', {{}} FROM person p WHERE {where} "
        "ON CONFLICT (mailing, person) DO NOTHING",
        mailing_id,
        status,
        now,
        *params,
    )
    rows = await Delivery.raw("SELECT COUNT(*) AS n FROM delivery WHERE mailing = {}", mailing_id)
    return int(rows[0]["n"])
