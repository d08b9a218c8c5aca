"""What a campaign leader sees about their petition: growth, where signatures came from,
what signers said, and the counts by status. No HTTP here; the pages in
core.web.pages.leader call these.

Everything counts `counted` signatures unless it says otherwise: unconfirmed ones wait for the
signer's email confirmation, held ones were kept aside by abuse defences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from piccolo.engine.sqlite import SQLiteEngine

from core.db import database
from core.errors import Conflict, Forbidden, NotFound
from core.petitions import counter
from core.petitions.service import get_petition
from core.petitions.tables import Petition, Signature

PETITIONS_PAGE_SIZE = 50
COMMENTS_PAGE_SIZE = 20
SIGNATURE_STATUSES = ("counted", "unconfirmed", "held")
DIRECT = "direct"

# Source codes the public page's share links put in their URLs (core.web.pages.petitions).
SOURCE_LABELS = {
    DIRECT: "Direct (no source code)",
    "share-email": "Shared by email",
    "share-whatsapp": "Shared on WhatsApp",
    "share-facebook": "Shared on Facebook",
    "share-x": "Shared on X",
    "share-bluesky": "Shared on Bluesky",
    "share-link": "Link copied from the petition page",
}
ID_MAX = 2**31 - 1  # the largest id a database integer holds; larger ones cannot exist


async def petition_for_leader(petition_id: int, *, person_id: int, is_staff: bool) -> Petition:
    """The petition, if this person may run it: its creator, or staff."""
    if not 0 < petition_id <= ID_MAX:
        raise NotFound("There is no such petition. It may have been removed.")
    petition = await get_petition(petition_id)
    if not is_staff and petition.creator != person_id:
        raise Forbidden(
            "This petition's dashboard is only for the person who started it and for staff. "
            "If you started it, sign in with the email address you used then."
        )
    return petition


def ensure_text_editable(petition: Petition) -> None:
    """Closed and delivered petitions keep the text people signed (update_petition agrees)."""
    if petition.status in ("closed", "delivered"):
        raise Conflict("This petition is closed; its text can no longer change.")


@dataclass(frozen=True)
class PetitionList:
    petitions: list[dict]
    total: int
    page: int
    has_next: bool


async def petitions_led_by(*, person_id: int, is_staff: bool, page: int = 1) -> PetitionList:
    """The person's own petitions, newest first, with their counts; staff see every petition."""
    page = max(1, page)
    condition = None if is_staff else Petition.creator == person_id
    query = Petition.select(
        Petition.id,
        Petition.slug,
        Petition.title,
        Petition.status,
        Petition.goal,
        Petition.created_at,
        Petition.published_at,
        Petition.creator.given_name,
        Petition.creator.family_name,
    )
    count = Petition.count()
    if condition is not None:
        query, count = query.where(condition), count.where(condition)
    rows = (
        await query.order_by(Petition.id, ascending=False)
        .limit(PETITIONS_PAGE_SIZE)
        .offset((page - 1) * PETITIONS_PAGE_SIZE)
    )
    totals = await counter.totals(row["id"] for row in rows)
    for row in rows:
        row["total"] = totals.get(row["id"], 0)
        row["creator_name"] = " ".join(
            part for part in (row["creator.given_name"], row["creator.family_name"]) if part
        )
    total = await count
    return PetitionList(rows, total, page, page * PETITIONS_PAGE_SIZE < total)


def _is_sqlite() -> bool:
    return isinstance(database(), SQLiteEngine)


async def _counts_by_day(petition_id: int) -> dict[date, int]:
    # Both databases keep timestamps in UTC; SQLite as ISO text, so its first 10 characters.
    day = (
        "substr(created_at, 1, 10)"
        if _is_sqlite()
        else "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    )
    rows = await Signature.raw(
        f"SELECT {day} AS day, COUNT(*) AS n FROM signature "  # noqa: S608 - no user input in `day`
        "WHERE petition = {} AND status = 'counted' GROUP BY 1 ORDER BY 1",
        petition_id,
    )
    return {date.fromisoformat(str(row["day"])[:10]): int(row["n"]) for row in rows}


async def daily_signatures(petition: Petition, *, today: date | None = None) -> list[tuple[date, int]]:
    """New counted signatures per day (UTC), one entry for every day of the petition's life
    (from publication, or its first signature, to today or the day it closed), zeros included."""
    by_day = await _counts_by_day(petition.id)
    if not by_day and petition.published_at is None:
        return []
    today = today or datetime.now(UTC).date()
    start = (petition.published_at or petition.created_at).astimezone(UTC).date()
    ended = petition.closed_at if petition.status in ("closed", "delivered") else None
    end = ended.astimezone(UTC).date() if ended else today
    if by_day:
        start, end = min(start, min(by_day)), max(end, max(by_day))
    end = max(start, end)
    return [
        (start + timedelta(days=i), by_day.get(start + timedelta(days=i), 0))
        for i in range((end - start).days + 1)
    ]


@dataclass(frozen=True)
class SourceRow:
    code: str
    label: str
    count: int
    percent: float


async def sources(petition_id: int) -> list[SourceRow]:
    """Counted signatures by the source code in the link that brought them, most first.
    Signatures without a code are "direct"."""
    rows = await Signature.raw(
        "SELECT source, COUNT(*) AS n FROM signature WHERE petition = {} AND status = 'counted' "
        "GROUP BY source",
        petition_id,
    )
    merged: dict[str, int] = {}
    for row in rows:
        code = row["source"] or DIRECT
        merged[code] = merged.get(code, 0) + int(row["n"])
    total = sum(merged.values())
    ordered = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    return [
        SourceRow(code, SOURCE_LABELS.get(code, code), n, round(100 * n / total, 1) if total else 0.0)
        for code, n in ordered
    ]


async def status_counts(petition_id: int) -> dict[str, int]:
    """Signatures by status: counted, unconfirmed (waiting for email confirmation), held."""
    rows = await Signature.raw(
        "SELECT status, COUNT(*) AS n FROM signature WHERE petition = {} GROUP BY status", petition_id
    )
    counts = dict.fromkeys(SIGNATURE_STATUSES, 0)
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + int(row["n"])
    return counts


def area_of(region: str, postal_code: str) -> str:
    """A coarse place: the region, or the first part of the postal code."""
    return region or (postal_code or "")[:3]


@dataclass(frozen=True)
class CommentsPage:
    comments: list[dict]
    total: int
    page: int
    has_next: bool


async def comments(petition_id: int, page: int = 1) -> CommentsPage:
    """Signers' comments, newest first, with first name and area only (like the public page):
    the full name goes only to the creator, and only for those who agreed to share it."""
    page = max(1, page)
    condition = (
        (Signature.petition == petition_id) & (Signature.status == "counted") & (Signature.comment != "")
    )
    rows = await (
        Signature.select(
            Signature.comment,
            Signature.created_at,
            Signature.person.given_name,
            Signature.person.region,
            Signature.person.postal_code,
        )
        .where(condition)
        .order_by(Signature.id, ascending=False)
        .limit(COMMENTS_PAGE_SIZE)
        .offset((page - 1) * COMMENTS_PAGE_SIZE)
    )
    total = await Signature.count().where(condition)
    items = [
        {
            "name": row["person.given_name"] or "Someone",
            "area": area_of(row["person.region"], row["person.postal_code"]),
            "comment": row["comment"],
            "at": row["created_at"],
        }
        for row in rows
    ]
    return CommentsPage(items, total, page, page * COMMENTS_PAGE_SIZE < total)
