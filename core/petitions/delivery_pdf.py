"""Drawing the delivery packet's PDF with fpdf2: a cover, then the grouped list of signers.

The list is drawn with `FPDF.text` at computed positions rather than with cells or tables:
it is several times faster, which matters at 100,000 names, and each row costs the same
however long the document already is.
"""

from __future__ import annotations

from datetime import datetime

from fpdf import FPDF

from core.petitions.delivery import Entry, PacketSummary, district_label, region_label
from core.petitions.pdf_text import PdfText, install_fonts, plain_text, set_font

MARGIN = 15.0
ROW_H = 5.0
SIZE = 9.0
GREY = (90, 90, 90)
PAGES_ALIAS = "{#pages}"
# (heading, width in mm) — 180 mm between the margins of an A4 page.
COLUMNS = (("#", 14.0), ("Name", 66.0), ("Postal code", 26.0), ("Locality", 44.0), ("Signed", 30.0))


def _date(value: datetime | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else ""


class _Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.text_fonts = PdfText(unicode=False)
        self.footer_title = ""
        self.in_table = False
        self.continued = ""
        # Room for a five-digit page count (the default "{nb}" reserves three), and an alias
        # no petition text or name will contain by accident.
        self.alias_nb_pages(PAGES_ALIAS, align="L")

    def header(self) -> None:
        if not self.in_table:
            return
        fonts = self.text_fonts
        set_font(self, fonts, "", 8)
        self.set_text_color(*GREY)
        self.set_xy(MARGIN, 8)
        self.cell(0, 4, fit(self, fonts, fonts.line(self.continued), self.w - 2 * MARGIN))
        set_font(self, fonts, "B", SIZE)
        self.set_text_color(0, 0, 0)
        x, y = MARGIN, 14.0
        for heading, width in COLUMNS:
            self.text(x + 1, y + 3.6, heading)
            x += width
        self.line(MARGIN, y + ROW_H, self.w - MARGIN, y + ROW_H)
        self.set_y(y + ROW_H + 1)
        set_font(self, fonts, "", SIZE)

    def footer(self) -> None:
        fonts = self.text_fonts
        set_font(self, fonts, "", 8)
        self.set_text_color(*GREY)
        self.set_xy(MARGIN, -12)
        width = self.w - 2 * MARGIN
        self.cell(width * 0.75, 5, fit(self, fonts, fonts.line(self.footer_title), width * 0.75 - 2))
        self.cell(width * 0.25, 5, f"Page {self.page_no()} of {PAGES_ALIAS}", align="L")
        self.set_text_color(0, 0, 0)


def width_of(pdf: FPDF, text: str) -> float:
    """The width of `text` in mm in the current font: FPDF.get_string_width without its
    per-call set-up (it dominated the time for 100,000 rows). No text shaping is in use."""
    font = pdf.current_font
    assert font is not None
    widths = font.cw
    units = sum(widths[ord(c)] for c in text) if pdf.is_ttf_font else sum(widths[c] for c in text)
    return units * pdf.font_size_pt * 0.001 / pdf.k


def fit(pdf: FPDF, fonts: PdfText, text: str, width: float) -> str:
    """`text`, shortened with an ellipsis if it is wider than `width` mm in the current font."""
    # Cheap test first: no glyph is wider than about one em, so short strings always fit.
    if len(text) * pdf.font_size * 1.05 <= width:
        return text
    full = width_of(pdf, text)
    if full <= width:
        return text
    keep = max(1, int(len(text) * width / full))
    while keep > 1 and width_of(pdf, text[:keep] + fonts.ellipsis) > width:
        keep -= 1
    return text[:keep].rstrip() + fonts.ellipsis


class PacketDocument:
    """The PDF, drawn in steps: the cover when created, then `add` per batch of entries,
    then `finish` for the bytes. Not thread-safe; steps must not overlap (they do not)."""

    def __init__(self, summary: PacketSummary) -> None:
        self.summary = summary
        self.pdf = pdf = _Pdf()
        self.fonts = install_fonts(pdf)
        pdf.text_fonts = self.fonts
        petition = summary.petition
        pdf.footer_title = petition.title
        pdf.set_title(self.fonts.line(petition.title))
        pdf.set_subject("Petition and signers")
        pdf.set_creator("Groundswell")
        pdf.set_lang("en")
        pdf.set_creation_date(summary.generated_at)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(True, margin=18)
        self.number = 0
        self.bottom = pdf.h - 18
        self._cover()

    # The cover --------------------------------------------------------------------------

    def _para(self, text: str, size: float = 10, style: str = "", height: float = 5.0) -> None:
        pdf = self.pdf
        set_font(pdf, self.fonts, style, size)
        pdf.multi_cell(0, height, self.fonts.line(text), align="L", new_x="LMARGIN", new_y="NEXT")

    def _cover(self) -> None:
        pdf, s, petition = self.pdf, self.summary, self.summary.petition
        pdf.add_page()
        pdf.set_text_color(*GREY)
        self._para("Petition", 10)
        pdf.set_text_color(0, 0, 0)
        self._para(petition.title, 20, "B", 9)
        pdf.ln(3)
        if s.targets:
            self._para("To:", 11, "B", 6)
            for t in s.targets:
                details = ", ".join(part for part in (t.title, t.postal_area) if part)
                self._para(f"{t.name}{', ' + details if details else ''}", 11, "", 6)
            pdf.ln(3)
        self._para(f"{s.total:,} signature{'s' if s.total != 1 else ''}", 16, "B", 8)
        when = [f"Counted on {_date(s.generated_at)} (UTC)"]
        if petition.published_at:
            when.append(f"published on {_date(petition.published_at)}")
        if petition.goal:
            when.append(f"goal {petition.goal:,}")
        self._para("; ".join(when) + ".", 10)
        pdf.ln(2)
        if s.consenting:
            self._para(
                f"{s.consenting:,} signer{'s' if s.consenting != 1 else ''} agreed to share their name and "
                "postal code with the petition's creator; they are listed on the following pages by region "
                f"and district. {s.not_sharing:,} more signed without sharing their name: they are counted "
                "in the total but not listed."
            )
        else:
            self._para(
                "None of the signers chose to share their name with the petition's creator, so this "
                "packet lists no names; every signature is counted in the total."
            )
        pdf.ln(4)
        self._para("The petition", 13, "B", 7)
        if petition.summary:
            self._para(petition.summary, 11, "B", 5.5)
            pdf.ln(1)
        self._para(plain_text(petition.body, self.fonts.bullet), 10, "", 5)
        if s.groups:
            pdf.ln(4)
            self._para("Signers sharing their name, by region", 13, "B", 7)
            set_font(pdf, self.fonts, "", 10)
            for region, n in s.regions():
                if pdf.y + 6 > self.bottom:
                    pdf.add_page()
                    set_font(pdf, self.fonts, "", 10)
                self._put(MARGIN, 140, 6, region_label(region))
                self._put(MARGIN + 150, 30, 6, f"{n:,}")
                pdf.set_y(pdf.y + 6)

    # The list ---------------------------------------------------------------------------

    def _start_table(self) -> None:
        pdf = self.pdf
        pdf.set_auto_page_break(False)
        pdf.in_table = True
        pdf.continued = f"{self.summary.petition.title} {self.fonts.dash} signers sharing their name"
        pdf.add_page()

    def _room(self, height: float) -> None:
        if self.pdf.y + height > self.bottom:
            self.pdf.add_page()

    def _put(self, x: float, width: float, height: float, text: str) -> None:
        """Print `text` in a box at (x, current y) without moving; too long is cut short."""
        pdf = self.pdf
        clean, fallback = self.fonts.clean(text)
        if fallback:  # only cells know how to switch to a fallback font mid-text
            y = pdf.y
            pdf.set_xy(x, y)
            pdf.cell(width, height, clean)
            pdf.set_y(y)
        elif clean:
            pdf.text(x, pdf.y + height * 0.72, fit(pdf, self.fonts, clean, width))

    def _line(self, text: str, *, size: float, style: str, height: float, indent: float = 0) -> None:
        pdf = self.pdf
        set_font(pdf, self.fonts, style, size)
        self._put(MARGIN + indent, pdf.w - 2 * MARGIN - indent, height, text)
        pdf.set_y(pdf.y + height)
        set_font(pdf, self.fonts, "", SIZE)

    def _signer(self, signer: dict) -> None:
        pdf = self.pdf
        self.number += 1
        signed = signer["signed_at"]
        cells = (
            f"{self.number:,}",
            signer["name"],
            signer["postal_code"],
            signer["locality"],
            signed.strftime("%Y-%m-%d") if signed else "",
        )
        x = MARGIN
        for text, (_, width) in zip(cells, COLUMNS, strict=True):
            self._put(x + 1, width - 2, ROW_H, text)
            x += width
        pdf.set_y(pdf.y + ROW_H)

    def add(self, entries: list[Entry]) -> None:
        pdf = self.pdf
        if entries and not pdf.in_table:
            self._start_table()
        set_font(pdf, self.fonts, "", SIZE)
        for entry in entries:
            region, district = region_label(entry.region), district_label(entry.district)
            if entry.kind == "region":
                self._room(7 + 6 + ROW_H)
                pdf.set_y(pdf.y + 1)
                self._line(region, size=11, style="B", height=7)
            elif entry.kind == "district":
                self._room(6 + ROW_H)
                self._line(district, size=SIZE + 0.5, style="B", height=6, indent=4)
                pdf.continued = f"{region} {self.fonts.dash} {district} (continued)"
            elif entry.kind == "signer":
                self._room(ROW_H)
                self._signer(entry.signer or {})
            elif entry.kind == "district total":
                self._room(6)
                self._line(f"Total for {district}: {entry.count:,}", size=SIZE, style="B", height=6, indent=4)
            elif entry.kind == "region total":
                self._room(8)
                pdf.line(MARGIN, pdf.y, pdf.w - MARGIN, pdf.y)
                self._line(f"Total for {region}: {entry.count:,}", size=10, style="B", height=8)

    def finish(self) -> bytes:
        pdf, s = self.pdf, self.summary
        if pdf.in_table:
            pdf.continued = f"{s.petition.title} {self.fonts.dash} totals"
            self._room(40)
            pdf.set_y(pdf.y + 4)
            for label, n in (
                ("Signers sharing their name (listed)", s.consenting),
                ("Signed without sharing their name", s.not_sharing),
                ("All signatures", s.total),
            ):
                self._line(f"{label}: {n:,}", size=11, style="B", height=7)
            if self.fonts.replaced:
                self._para(
                    "Some names use letters this server has no font for; they are printed as “?”. "
                    "The CSV file has every name in full.",
                    8,
                )
        return bytes(pdf.output())
