"""Finding petitions: the public directory's filters and sorts, and "similar petitions"
shown before someone starts a new one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.db.engine import ilike
from core.petitions.tables import Petition

PAGE_SIZE = 20
SORTS = {
    "popular": (Petition.signature_count, False),
    "newest": (Petition.published_at, False),
    "growing": (Petition.signatures_last_day, False),
}
STATES = {
    "open": ["published"],
    "closed": ["closed", "delivered"],
    "all": ["published", "closed", "delivered"],
}


@dataclass(frozen=True)
class DirectoryQuery:
    q: str = ""
    state: str = "open"
    sort: str = "popular"
    group_id: int | None = None
    postal_code: str = ""
    page: int = 1


@dataclass(frozen=True)
class DirectoryPage:
    petitions: list[dict]
    total: int
    page: int
    has_next: bool


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[\w']+", text.lower()) if len(w) >= 3][:8]


async def search(query: DirectoryQuery) -> DirectoryPage:
    condition = Petition.status.is_in(STATES.get(query.state, STATES["open"]))
    for word in _words(query.q):
        term = f"%{word}%"
        condition &= ilike(Petition.title, term) | ilike(Petition.summary, term) | ilike(Petition.body, term)
    if query.group_id:
        condition &= Petition.group == query.group_id
    postal = query.postal_code.strip().upper()
    if postal:
        # "Near me": petitions for a postal area the code falls in (its prefix), or national ones.
        prefixes = {postal[:n] for n in range(2, len(postal) + 1)}
        condition &= (Petition.scope_kind == "national") | (
            (Petition.scope_kind == "postal") & Petition.scope_value.is_in(sorted(prefixes))
        )
    column, ascending = SORTS.get(query.sort, SORTS["popular"])
    page = max(1, query.page)
    rows = await (
        Petition.select(
            Petition.id,
            Petition.slug,
            Petition.title,
            Petition.summary,
            Petition.status,
            Petition.goal,
            Petition.signature_count,
            Petition.signatures_last_day,
            Petition.published_at,
            Petition.scope_kind,
            Petition.scope_value,
            Petition.group.name,
        )
        .where(condition)
        .order_by(column, ascending=ascending)
        .order_by(Petition.id, ascending=False)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    total = await Petition.count().where(condition)
    return DirectoryPage(rows, total, page, page * PAGE_SIZE < total)


async def similar_petitions(title: str, limit: int = 5) -> list[dict]:
    """Open petitions sharing words with `title`, most shared words first, so a would-be
    starter can sign an existing petition instead of splitting the support."""
    words = _words(title)
    if not words:
        return []
    condition = ilike(Petition.title, f"%{words[0]}%")
    for word in words[1:]:
        condition |= ilike(Petition.title, f"%{word}%")
    rows = await (
        Petition.select(Petition.id, Petition.slug, Petition.title, Petition.signature_count)
        .where(condition & Petition.status.is_in(["published"]))
        .order_by(Petition.signature_count, ascending=False)
        .limit(100)
    )
    scored = [(sum(w in row["title"].lower() for w in words), row) for row in rows]
    scored.sort(key=lambda pair: (-pair[0], -pair[1]["signature_count"]))
    return [row for score, row in scored[:limit] if score]
