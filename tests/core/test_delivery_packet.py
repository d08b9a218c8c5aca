"""The delivery packet: a PDF and a CSV of the signers who agreed to share their name, grouped
by region and district with totals, ready to hand to the petition's target."""

import csv
import io
import re

import pytest

from core.accounts.logins import login_for_email
from core.people.tables import Person
from core.petitions import delivery, pdf_text
from core.petitions.delivery import delivery_csv, delivery_pdf, packet_entries, packet_summary
from core.petitions.delivery_pdf import PacketDocument, fit
from core.petitions.pdf_text import find_dejavu, plain_text
from core.petitions.service import PetitionInput, TargetInput, create_petition, submit_petition
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Petition
from tests.support.accounts import sign_in

LEADER = "leader@example.org"
TITLE = "Fix the Riverside footbridge now"
# (name, email, region, district, shares their name)
SIGNERS = [
    ("Zoë Ñúñez", "zoe@example.org", "North", "Harbour", True),
    ("Łukasz Kowalski", "lukasz@example.org", "North", "Harbour", True),
    ("李雷", "lilei@example.org", "North", "Hillside", True),
    ("Ana Zed", "ana@example.org", "South", "Docks", True),
    ("Quiet Person", "quiet@example.org", "South", "Docks", False),
    ("Nowhere Nel", "nel@example.org", "", "", True),
    ("Other Quiet", "quiet2@example.org", "North", "Harbour", False),
]


async def petition_with_signers(creator_email: str | None = None, signers=SIGNERS) -> Petition:
    creator = None
    if creator_email:
        login = await login_for_email(creator_email)
        creator = login.person
    petition = await create_petition(
        PetitionInput(
            title=TITLE,
            body="The footbridge has been **closed** for two years.\n\n- Reopen it\n- Make it safe",
            targets=[
                TargetInput(name="Jane Mayor", title="Mayor of Riverside"),
                TargetInput(name="Roads Committee", postal_area="RV1"),
            ],
            goal=100,
        ),
        creator_id=creator,
    )
    petition = await submit_petition(petition.id, trusted=True)
    for name, email, region, district, shares in signers:
        await sign(
            petition.id,
            SignatureInput(
                name=name,
                email=email,
                postal_code="RV1 2AB",
                comment=f"=cmd from {name}",
                share_with_creator=shares,
            ),
        )
        await Person.update(
            {Person.region: region, Person.district: district, Person.locality: "Riverside"}
        ).where(Person.email == email)
    return petition


def csv_rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


async def collect(stream) -> str:
    return "".join([chunk async for chunk in stream])


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


# The CSV ------------------------------------------------------------------------------------


async def test_the_csv_groups_consenting_signers_by_region_and_district_with_totals():
    petition = await petition_with_signers()
    rows = csv_rows(await collect(delivery_csv(petition)))
    assert rows[0] == [
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
    outline = [(r[0], r[1], r[2], r[3], r[8]) for r in rows[1:]]
    assert outline == [
        ("signer", "Region not known", "District not known", "Nowhere Nel", ""),
        ("district total", "Region not known", "District not known", "", "1"),
        ("region total", "Region not known", "", "", "1"),
        ("signer", "North", "Harbour", "Łukasz Kowalski", ""),
        ("signer", "North", "Harbour", "Zoë Ñúñez", ""),
        ("district total", "North", "Harbour", "", "2"),
        ("signer", "North", "Hillside", "李雷", ""),
        ("district total", "North", "Hillside", "", "1"),
        ("region total", "North", "", "", "3"),
        ("signer", "South", "Docks", "Ana Zed", ""),
        ("district total", "South", "Docks", "", "1"),
        ("region total", "South", "", "", "1"),
        ("signers sharing their name", "", "", "", "5"),
        ("signed without sharing their name", "", "", "", "2"),
        ("all signatures", "", "", "", "7"),
    ]


async def test_the_csv_names_no_one_who_did_not_consent_and_has_no_emails_or_formulas():
    petition = await petition_with_signers()
    text = await collect(delivery_csv(petition))
    assert "Quiet" not in text and "@" not in text
    comments = [r[6] for r in csv_rows(text)[1:] if r[0] == "signer"]
    assert comments and all(c.startswith("'=cmd") for c in comments)


async def test_grouping_is_right_across_batch_boundaries(monkeypatch):
    """Keyset paging with tiny batches must give the same list as one big batch."""
    petition = await petition_with_signers()
    whole = await collect(delivery_csv(petition))
    monkeypatch.setattr(delivery, "BATCH", 2)
    assert await collect(delivery_csv(petition)) == whole
    summary = await packet_summary(petition)
    kinds = [e.kind for batch in [b async for b in packet_entries(summary)] for e in batch]
    assert kinds.count("signer") == 5 and kinds.count("region total") == 3


async def test_the_summary_counts_only_counted_signatures():
    petition = await petition_with_signers()
    await sign(
        petition.id,
        SignatureInput(name="Held Hal", email="hal@example.org", share_with_creator=True),
        held=True,
    )
    summary = await packet_summary(petition)
    assert (summary.total, summary.consenting, summary.not_sharing) == (7, 5, 2)
    assert summary.regions() == [("", 1), ("North", 3), ("South", 1)]


# The PDF ------------------------------------------------------------------------------------


async def test_the_pdf_starts_with_pdf_and_carries_the_title():
    petition = await petition_with_signers()
    pdf = await delivery_pdf(petition)
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    title = re.search(rb"/Title\s*(\((?:[^()\\]|\\.)*\)|<[0-9A-Fa-f]+>)", pdf)
    assert title, "no /Title in the document information"
    raw = title.group(1)
    decoded = (
        bytes.fromhex(raw[1:-1].decode()).decode("utf-16")
        if raw.startswith(b"<")
        else raw[1:-1].decode("latin-1")
    )
    assert decoded.lstrip("\ufeff").replace("\\", "") == TITLE or raw.startswith(b"(\xfe\xff")
    assert page_count(pdf) >= 2  # the cover, then the list


async def test_unicode_names_do_not_break_the_pdf():
    petition = await petition_with_signers()
    summary = await packet_summary(petition)
    document = PacketDocument(summary)
    async for entries in packet_entries(summary):
        document.add(entries)
    pdf = document.finish()
    assert pdf.startswith(b"%PDF-")
    if find_dejavu():
        assert document.fonts.unicode
        # Latin letters print as they are; Chinese needs a CJK font, which may not be installed.
        assert document.fonts.replaced in (0, 2)
    assert document.number == 5


async def test_without_dejavu_the_pdf_transliterates_to_the_core_font(monkeypatch):
    monkeypatch.setattr(pdf_text, "DEJAVU_DIRS", ())
    petition = await petition_with_signers()
    pdf = await delivery_pdf(petition)
    assert pdf.startswith(b"%PDF-")
    assert b"/Helvetica" in pdf
    text = pdf_text.PdfText(unicode=False)
    assert text.clean("Zoë Ñúñez")[0] == "Zoë Ñúñez"
    assert text.clean("Łukasz Dvořák")[0] == "Lukasz Dvorák"  # á is in Latin-1, ř is not
    assert text.clean("李雷")[0] == "??" and text.replaced == 2


async def test_a_packet_with_no_consenting_signers_is_just_the_cover():
    petition = await petition_with_signers(signers=[(*s[:4], False) for s in SIGNERS[:3]])
    pdf = await delivery_pdf(petition)
    assert page_count(pdf) == 1
    rows = csv_rows(await collect(delivery_csv(petition)))
    assert [r[0] for r in rows[1:]] == [
        "signers sharing their name",
        "signed without sharing their name",
        "all signatures",
    ]


async def test_long_names_and_many_signers_fit_the_table():
    signers = [
        (f"Name{i:03d} " + "Verylongfamilyname" * (i % 3), f"s{i}@example.org", "North", f"D{i % 4}", True)
        for i in range(120)
    ]
    petition = await petition_with_signers(signers=signers)
    summary = await packet_summary(petition)
    document = PacketDocument(summary)
    async for entries in packet_entries(summary):
        document.add(entries)
    pdf = document.finish()
    assert document.number == 120
    assert page_count(pdf) >= 4
    fonts = document.fonts
    long_name = "Name001 " + "Verylongfamilyname" * 8
    cut = fit(document.pdf, fonts, long_name, 64)
    assert cut.endswith(fonts.ellipsis) and document.pdf.get_string_width(cut) <= 64
    assert fit(document.pdf, fonts, "Ann", 64) == "Ann"


def test_markdown_becomes_readable_plain_text():
    text = plain_text(
        "Reopen it **now**.\n\n- safe [route](https://example.org/route)\n- lit\n\n1. one\n2. two"
    )
    assert text == "Reopen it now.\n\n• safe route (https://example.org/route)\n• lit\n\n1. one\n2. two"


# Over HTTP ----------------------------------------------------------------------------------


async def test_the_creator_downloads_both_files_and_others_cannot(client):
    await sign_in(client, LEADER, "leader")
    petition = await petition_with_signers(LEADER)
    pdf = await client.get(f"/lead/petitions/{petition.id}/delivery.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{petition.slug}-delivery.pdf"'
    assert pdf.headers["cache-control"] == "private, no-store"
    assert pdf.content.startswith(b"%PDF-")
    packet = await client.get(f"/lead/petitions/{petition.id}/delivery.csv")
    assert packet.headers["content-type"] == "text/csv; charset=utf-8"
    assert packet.headers["content-disposition"] == f'attachment; filename="{petition.slug}-delivery.csv"'
    assert csv_rows(packet.content.decode("utf-8"))[-1] == ["all signatures", "", "", "", "", "", "", "", "7"]
    page = await client.get(f"/lead/petitions/{petition.id}")
    assert f"/lead/petitions/{petition.id}/delivery.pdf" in page.text
    await sign_in(client, "rival@example.org", "leader")
    assert (await client.get(f"/lead/petitions/{petition.id}/delivery.pdf")).status_code == 403
    assert (await client.get(f"/lead/petitions/{petition.id}/delivery.csv")).status_code == 403


@pytest.mark.parametrize("role", ["staff", "admin"])
async def test_staff_can_download_the_packet(client, role):
    await sign_in(client, LEADER, "leader")
    petition = await petition_with_signers(LEADER)
    await sign_in(client, f"{role}@example.org", role)
    assert (await client.get(f"/lead/petitions/{petition.id}/delivery.pdf")).status_code == 200
