"""Text for PDFs: which fonts to use, and making any name printable with them.

The delivery packet must print names in any script. It uses DejaVu Sans, a TrueType font
that covers Latin, Greek, Cyrillic and more, from the places Linux distributions install it
(Debian/Ubuntu: the `fonts-dejavu-core` package). Fonts for other scripts (Chinese, Japanese,
Korean) are used as fallbacks when one of the known packages is installed. A character no
installed font has is printed as "?" and counted, so the packet can say the CSV has the name
in full. Without DejaVu at all, the PDF falls back to the PDF core font Helvetica, which only
knows Latin-1: letters are transliterated ("Ł" → "L", "ő" → "o") and others become "?".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from fpdf import FPDF

from core.petitions.markdown import render_markdown

FAMILY = "body"
DEJAVU_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu",  # Alpine: font-dejavu; Fedora: dejavu-sans-fonts
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/share/fonts/TTF",  # Arch: ttf-dejavu
)
# (path, index in a font collection): fonts for scripts DejaVu lacks, if installed.
FALLBACKS = (
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),  # fonts-droid-fallback
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),  # fonts-noto-cjk
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
)
# Latin letters that do not decompose into a base letter plus accents.
_LATIN = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Ħ": "H",
        "ħ": "h",
        "ı": "i",
        "Œ": "OE",
        "œ": "oe",
        "ſ": "s",
        "Ŧ": "T",
        "ŧ": "t",
        "Ŋ": "N",
        "ŋ": "n",
        "ĸ": "k",
        "‘": "'",
        "’": "'",
        "‚": ",",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "•": "*",
        "€": "EUR",
    }
)


def find_dejavu() -> tuple[Path, Path] | None:
    for directory in DEJAVU_DIRS:
        regular, bold = Path(directory, "DejaVuSans.ttf"), Path(directory, "DejaVuSans-Bold.ttf")
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


@dataclass
class PdfText:
    """The fonts installed into one document, and text made printable with them."""

    unicode: bool
    cmap: frozenset[int] = frozenset()
    fallback_cmap: frozenset[int] = frozenset()
    replaced: int = 0  # characters printed as "?" because no font has them

    @property
    def ellipsis(self) -> str:
        return "…" if self.unicode else "..."

    @property
    def bullet(self) -> str:
        return "•" if self.unicode else "*"

    @property
    def dash(self) -> str:
        return "—" if self.unicode else "-"

    def clean(self, text: str) -> tuple[str, bool]:
        """(printable text, whether it needs a fallback font)."""
        if not text:
            return "", False
        if self.unicode:
            if all(ord(c) in self.cmap or c in "\n\t" for c in text):
                return text, False
            out, fallback = [], False
            for c in text:
                if ord(c) in self.cmap or c in "\n\t":
                    out.append(c)
                elif ord(c) in self.fallback_cmap:
                    out.append(c)
                    fallback = True
                elif unicodedata.category(c) in ("Mn", "Me", "Cf", "Cc"):
                    continue  # combining marks and invisible controls: drop rather than "?"
                else:
                    out.append("?")
                    self.replaced += 1
            return "".join(out), fallback
        try:
            text.encode("latin-1")
            return text, False
        except UnicodeEncodeError:
            pass
        out = []
        for c in text.translate(_LATIN):
            if ord(c) < 256:
                out.append(c)
                continue
            base = "".join(
                b for b in unicodedata.normalize("NFKD", c) if ord(b) < 256 and not unicodedata.combining(b)
            )
            if base:
                out.append(base)
            elif unicodedata.category(c) not in ("Mn", "Me", "Cf", "Cc"):
                out.append("?")
                self.replaced += 1
        return "".join(out), False

    def line(self, text: str) -> str:
        """Printable text for a context that handles fallback fonts itself (cells)."""
        return self.clean(text)[0]


def install_fonts(pdf: FPDF) -> PdfText:
    """Add the best available fonts to `pdf` as family FAMILY (styles "" and "B")."""
    dejavu = find_dejavu()
    if dejavu is None:
        return PdfText(unicode=False)
    regular, bold = dejavu
    pdf.add_font(FAMILY, "", str(regular))
    pdf.add_font(FAMILY, "B", str(bold))
    fallback_cmap: set[int] = set()
    names = []
    for i, (path, index) in enumerate(FALLBACKS):
        if not Path(path).is_file():
            continue
        name = f"fallback{i}"
        try:
            pdf.add_font(name, "", path, collection_font_number=index)
            pdf.add_font(name, "B", path, collection_font_number=index)
        except Exception:  # noqa: S112 - a broken optional font is skipped, not fatal
            continue
        names.append(name)
        fallback_cmap.update(pdf.fonts[name].cmap)
    if names:
        pdf.set_fallback_fonts(names, exact_match=False)
    cmap = frozenset(pdf.fonts[FAMILY].cmap)
    return PdfText(unicode=True, cmap=cmap, fallback_cmap=frozenset(fallback_cmap - cmap))


def set_font(pdf: FPDF, text: PdfText, style: str = "", size: float = 10) -> None:
    pdf.set_font(FAMILY if text.unicode else "helvetica", style, size)


class _PlainText(HTMLParser):
    """Sanitized petition HTML to plain text: paragraphs, bulleted lists, links with their URL."""

    BLOCKS = frozenset({"p", "h2", "h3", "h4", "blockquote", "pre", "ul", "ol", "table", "tr", "hr"})

    def __init__(self, bullet: str) -> None:
        super().__init__(convert_charrefs=True)
        self.bullet = bullet
        self.parts: list[str] = []
        self.href: list[str] = []
        self.ordered: list[int] = []
        self.item_opened = False  # a list item's marker is out and its text not yet
        self.in_pre = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS and not (tag == "p" and self.item_opened):
            self.parts.append("\n\n")
        if tag == "pre":
            self.in_pre = True
        elif tag == "ol":
            self.ordered.append(0)
        elif tag == "ul":
            self.ordered.append(-1)
        elif tag == "li":
            marker = self.bullet
            if self.ordered and self.ordered[-1] >= 0:
                self.ordered[-1] += 1
                marker = f"{self.ordered[-1]}."
            self.parts.append(f"\n{marker} ")
            self.item_opened = True
            return
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("  ")
        elif tag == "a":
            self.href.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.in_pre = False
        elif tag in ("ol", "ul") and self.ordered:
            self.ordered.pop()
        if tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href and not href.startswith("mailto:"):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.item_opened = False
        # Line breaks in HTML source are spaces; structure comes from the tags (but <pre> keeps its lines).
        self.parts.append(data if self.in_pre else data.replace("\n", " "))

    def text(self) -> str:
        lines = [" ".join(line.split()) for line in "".join(self.parts).split("\n")]
        out: list[str] = []
        for line in lines:
            if line or (out and out[-1]):
                out.append(line)
        return "\n".join(out).strip()


def plain_text(markdown: str, bullet: str = "•") -> str:
    """The petition's Markdown as plain text for print."""
    parser = _PlainText(bullet)
    parser.feed(render_markdown(markdown))
    parser.close()
    return parser.text()
