"""The delivery packet: what a leader hands to the petition's target.

A PDF (a cover with the petition, its targets and its totals; then the signers who agreed to
share their name, grouped by region and district with subtotals) and the same list as CSV.
Signers who did not agree are counted, never named.

Both are built from one consistent snapshot (signatures up to the highest id when the packet
was started) and read the signers in batches, so a petition with 100,000 signers is never
held as rows in Python at once (only their ids, in order); the CSV streams batch by batch.
The PDF is assembled in memory by fpdf2 (about 5 MB for 100,000 names) and drawn in a worker
thread, batch by batch; work grows linearly with the number of signers.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.petitions.service import targets_of
from core.petitions.signers import BOM, csv_text, signed_at, signers_in_order
from core.petitions.tables import Petition, PetitionTarget, Signature

BATCH = 900
REGION_UNKNOWN = "Region not known"
DISTRICT_UNKNOWN = "District not known"
CSV_HEADER = [
    "Row",
    "Region",
    "District",
    "Name",
    "Postal code",
    "Locality",
    "Comment",
    "Signed at (UTC)",
    "Count",
]

_GROUPS = """
SELECT p.region AS region, p.district AS district, COUNT(*) AS n
FROM signature s JOIN person p ON p.id = s.person
WHERE s.petition = {} AND s.status = 'counted' AND s.share_with_creator = {} AND s.id <= {}
GROUP BY p.region, p.district ORDER BY p.region, p.district
"""
_ORDER = """
SELECT s.id AS id FROM signature s JOIN person p ON p.id = s.person
WHERE s.petition = {} AND s.status = 'counted' AND s.share_with_creator = {} AND s.id <= {}
ORDER BY p.region, p.district, p.family_name, p.given_name, s.id
"""


def region_label(region: str) -> str:
    return region or REGION_UNKNOWN


def district_label(district: str) -> str:
    return district or DISTRICT_UNKNOWN


@dataclass(frozen=True)
class PacketSummary:
    petition: Petition
    targets: list[PetitionTarget]
    generated_at: datetime
    cutoff: int  # the highest signature id included
    total: int  # counted signatures
    consenting: int  # of which the signer agreed to share their name
    groups: list[tuple[str, str, int]]  # (region, district, consenting signers), in listing order

    @property
    def not_sharing(self) -> int:
        return self.total - self.consenting

    def regions(self) -> list[tuple[str, int]]:
        totals: dict[str, int] = {}
        for region, _, n in self.groups:
            totals[region] = totals.get(region, 0) + n
        return list(totals.items())


async def packet_summary(petition: Petition) -> PacketSummary:
    top = await Signature.raw(
        "SELECT COALESCE(MAX(id), 0) AS top FROM signature WHERE petition = {}", petition.id
    )
    cutoff = int(top[0]["top"])
    counted = await Signature.raw(
        "SELECT COUNT(*) AS n FROM signature WHERE petition = {} AND status = 'counted' AND id <= {}",
        petition.id,
        cutoff,
    )
    groups = [
        (row["region"] or "", row["district"] or "", int(row["n"]))
        for row in await Signature.raw(_GROUPS, petition.id, True, cutoff)
    ]
    return PacketSummary(
        petition=petition,
        targets=await targets_of(petition.id),
        generated_at=datetime.now(UTC),
        cutoff=cutoff,
        total=int(counted[0]["n"]),
        consenting=sum(n for _, _, n in groups),
        groups=groups,
    )


async def grouped_signers(summary: PacketSummary, batch: int | None = None) -> AsyncIterator[list[dict]]:
    """Consenting signers ordered by region, district and name, in batches.

    One query puts the signature ids in order (the database sorts once; only the ids, 8 bytes
    each, are kept); each batch then reads its signers by primary key. Keyset paging over the
    sort columns would re-sort the whole list for every batch."""
    rows = await Signature.raw(_ORDER, summary.petition.id, True, summary.cutoff)
    ids = array("q", (row["id"] for row in rows))
    del rows
    async for signers in signers_in_order(ids, batch or BATCH):
        yield signers


@dataclass(frozen=True)
class Entry:
    """One line of the grouped list: a heading, a signer, or a subtotal."""

    kind: str  # "region", "district", "signer", "district total", "region total"
    region: str
    district: str = ""
    signer: dict | None = None
    count: int = 0


@dataclass
class _Grouping:
    """Turns the ordered signers into headings, signers and subtotals, across batches."""

    region: str | None = None
    district: str | None = None
    in_region: int = 0
    in_district: int = 0
    entries: list[Entry] = field(default_factory=list)

    def _close_district(self) -> None:
        if self.district is not None:
            assert self.region is not None
            self.entries.append(Entry("district total", self.region, self.district, count=self.in_district))
        self.district, self.in_district = None, 0

    def _close_region(self) -> None:
        self._close_district()
        if self.region is not None:
            self.entries.append(Entry("region total", self.region, count=self.in_region))
        self.region, self.in_region = None, 0

    def feed(self, signers: list[dict]) -> list[Entry]:
        for signer in signers:
            if signer["region"] != self.region:
                self._close_region()
                self.region = signer["region"]
                self.entries.append(Entry("region", self.region))
            if signer["district"] != self.district:
                self._close_district()
                self.district = signer["district"]
                self.entries.append(Entry("district", self.region, self.district))
            self.in_region += 1
            self.in_district += 1
            self.entries.append(Entry("signer", self.region, self.district, signer=signer))
        return self.take()

    def finish(self) -> list[Entry]:
        self._close_region()
        return self.take()

    def take(self) -> list[Entry]:
        entries, self.entries = self.entries, []
        return entries


async def packet_entries(summary: PacketSummary) -> AsyncIterator[list[Entry]]:
    grouping = _Grouping()
    async for batch in grouped_signers(summary):
        yield grouping.feed(batch)
    tail = grouping.finish()
    if tail:
        yield tail


def _csv_row(entry: Entry) -> list[object]:
    region = region_label(entry.region)
    if entry.kind == "signer":
        s = entry.signer or {}
        return [
            "signer",
            region,
            district_label(entry.district),
            s["name"],
            s["postal_code"],
            s["locality"],
            s["comment"],
            signed_at(s["signed_at"]),
            "",
        ]
    if entry.kind == "district total":
        return ["district total", region, district_label(entry.district), "", "", "", "", "", entry.count]
    return ["region total", region, "", "", "", "", "", "", entry.count]


async def delivery_csv(petition: Petition) -> AsyncIterator[str]:
    """The packet as CSV: consenting signers grouped by region and district, a total row after
    each district and region, and the overall totals at the end."""
    summary = await packet_summary(petition)
    yield BOM + csv_text([CSV_HEADER])
    async for entries in packet_entries(summary):
        yield csv_text(_csv_row(e) for e in entries if e.kind in ("signer", "district total", "region total"))
    blank = ["", "", "", "", "", "", ""]
    yield csv_text(
        [
            ["signers sharing their name", *blank, summary.consenting],
            ["signed without sharing their name", *blank, summary.not_sharing],
            ["all signatures", *blank, summary.total],
        ]
    )


async def delivery_pdf(petition: Petition) -> bytes:
    """The packet as a PDF document. The drawing (CPU work) runs in a worker thread, one batch
    at a time, so the event loop keeps serving other requests meanwhile."""
    from core.petitions.delivery_pdf import PacketDocument  # it imports this module's types

    summary = await packet_summary(petition)
    document = await asyncio.to_thread(PacketDocument, summary)
    async for entries in packet_entries(summary):
        await asyncio.to_thread(document.add, entries)
    return await asyncio.to_thread(document.finish)
