"""Signers a petition's creator may see: only those who ticked "Share my name and postal code
with the petition's creator" when signing, and whose signature counts. Staff see the same list.

What the consent covers is what the sign form says: the name and the postal code (with the
place they imply: locality, region, district), and the comment the signer wrote for the
petition. It does not cover the email address, the phone number or anything else about the
person, so no export here ever contains them.
"""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.petitions.tables import Signature

PREVIEW_SIZE = 50
BATCH = 900
BOM = "\ufeff"  # so spreadsheet programs read the file as UTF-8 (names like "Zoë" stay intact)
CSV_HEADER = ["Name", "Postal code", "Locality", "Region", "District", "Comment", "Signed at (UTC)"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def consenting_condition(petition_id: int):  # type: ignore[no-untyped-def]
    return (
        (Signature.petition == petition_id)
        & (Signature.status == "counted")
        & (Signature.share_with_creator == True)  # noqa: E712 - a SQL expression
    )


SIGNER_COLUMNS = (
    Signature.id,
    Signature.comment,
    Signature.created_at,
    Signature.person.given_name,
    Signature.person.family_name,
    Signature.person.postal_code,
    Signature.person.locality,
    Signature.person.region,
    Signature.person.district,
)


def full_name(given: str, family: str) -> str:
    return " ".join(part for part in (given, family) if part)


def signer_of(row: dict) -> dict:
    return {
        "id": row["id"],
        "name": full_name(row["person.given_name"], row["person.family_name"]),
        "postal_code": row["person.postal_code"],
        "locality": row["person.locality"],
        "region": row["person.region"],
        "district": row["person.district"],
        "comment": row["comment"],
        "signed_at": row["created_at"],
    }


@dataclass(frozen=True)
class SignersPreview:
    signers: list[dict]
    total: int


async def consenting_signers(petition_id: int, limit: int = PREVIEW_SIZE) -> SignersPreview:
    """The newest consenting signers (at most `limit`) and how many there are in all."""
    condition = consenting_condition(petition_id)
    rows = (
        await Signature.select(*SIGNER_COLUMNS)
        .where(condition)
        .order_by(Signature.id, ascending=False)
        .limit(limit)
    )
    return SignersPreview([signer_of(row) for row in rows], await Signature.count().where(condition))


async def signers_in_order(ids: Sequence[int], batch: int | None = None) -> AsyncIterator[list[dict]]:
    """The signers behind `ids`, in that order, a batch at a time, each batch read by primary
    key. A signature erased in the meantime is skipped, not an error."""
    batch = min(batch or BATCH, 900)  # SQLite builds may limit a statement to 999 parameters
    for start in range(0, len(ids), batch):
        chunk = list(ids[start : start + batch])
        rows = await Signature.select(*SIGNER_COLUMNS).where(Signature.id.is_in(chunk))
        found = {row["id"]: row for row in rows}
        signers = [signer_of(found[i]) for i in chunk if i in found]
        if signers:
            yield signers


async def consenting_batches(petition_id: int, batch: int | None = None) -> AsyncIterator[list[dict]]:
    """All consenting signers, oldest first, in batches. One query lists their signature ids
    (8 bytes each are kept, never whole rows), then each batch is read by primary key: steady
    work per batch whatever the indexes and statistics, unlike LIMIT/OFFSET or keyset paging
    over a filtered join."""
    rows = (
        await Signature.select(Signature.id).where(consenting_condition(petition_id)).order_by(Signature.id)
    )
    ids = array("q", (row["id"] for row in rows))
    del rows
    async for signers in signers_in_order(ids, batch):
        yield signers


def csv_safe(value: object) -> object:
    """A cell that spreadsheet programs will not run as a formula: text starting with = + - @
    (or a tab or carriage return) gets a leading apostrophe. Numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV text (RFC 4180 quoting, CRLF line ends), every cell made formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return buffer.getvalue()


def signed_at(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def signer_row(signer: dict) -> list[object]:
    return [
        signer["name"],
        signer["postal_code"],
        signer["locality"],
        signer["region"],
        signer["district"],
        signer["comment"],
        signed_at(signer["signed_at"]),
    ]


async def signers_csv(petition_id: int) -> AsyncIterator[str]:
    """The consenting signers as CSV, streamed: a header, then one chunk per batch."""
    yield BOM + csv_text([CSV_HEADER])
    async for batch in consenting_batches(petition_id):
        yield csv_text(signer_row(signer) for signer in batch)
