"""Tags staff put on members, and the taggings that attach them: the rules, without HTTP."""

from __future__ import annotations

from collections.abc import Iterable

from core.db import write_transaction
from core.errors import Conflict, NotFound, UserError
from core.people.tables import Person, Tag, Tagging

NAME_MAX = 100
DESCRIPTION_MAX = 300


def clean_tag_name(name: str) -> str:
    text = " ".join(name.split())
    if not text:
        raise UserError("Give the tag a name.")
    if len(text) > NAME_MAX:
        raise UserError(f"Keep tag names under {NAME_MAX} characters.")
    return text


async def create_tag(name: str, description: str = "") -> Tag:
    clean = clean_tag_name(name)
    description = description.strip()
    if len(description) > DESCRIPTION_MAX:
        raise UserError(f"Keep the tag description under {DESCRIPTION_MAX} characters.")
    rows = await (
        Tag.insert(Tag(name=clean, description=description))
        .on_conflict(target=Tag.name, action="DO NOTHING")
        .returning(Tag.id)
    )
    if not rows:
        raise Conflict(f"A tag called {clean!r} exists already; use it instead of creating another.")
    return await get_tag(rows[0]["id"])


async def get_tag(tag_id: int) -> Tag:
    tag = await Tag.objects().where(Tag.id == tag_id).first()
    if tag is None:
        raise NotFound("There is no such tag.")
    return tag


async def tag_ids_named(names: Iterable[str]) -> list[int]:
    """The ids of existing tags, in order; a name that is not a tag is an error (tags are
    created deliberately, not by a typo in a sign-up form)."""
    wanted = list(dict.fromkeys(clean_tag_name(n) for n in names))
    if not wanted:
        return []
    rows = await Tag.select(Tag.id, Tag.name).where(Tag.name.is_in(wanted))
    found = {row["name"]: row["id"] for row in rows}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise UserError(f"There is no tag called {missing[0]!r}; create it first.")
    return [found[n] for n in wanted]


async def attach_tags(person_id: int, tag_ids: Iterable[int]) -> None:
    """Tag a person; tags they already have are left as they are. Call inside a transaction."""
    ids = list(tag_ids)
    if ids:
        await Tagging.insert(*[Tagging(tag=tag_id, person=person_id) for tag_id in ids]).on_conflict(
            target=(Tagging.tag, Tagging.person), action="DO NOTHING"
        )


async def tag_person(tag_id: int, person_id: int) -> tuple[int, bool]:
    """Tag one person (idempotent): the tagging's id and whether it is new."""
    await get_tag(tag_id)
    if not await Person.exists().where(Person.id == person_id):
        raise UserError("The person to tag does not exist; link to one of this server's people.")
    async with write_transaction():
        rows = await (
            Tagging.insert(Tagging(tag=tag_id, person=person_id))
            .on_conflict(target=(Tagging.tag, Tagging.person), action="DO NOTHING")
            .returning(Tagging.id)
        )
    if rows:
        return rows[0]["id"], True
    existing = (
        await Tagging.select(Tagging.id)
        .where((Tagging.tag == tag_id) & (Tagging.person == person_id))
        .first()
    )
    assert existing is not None
    return existing["id"], False


async def get_tagging(tag_id: int, tagging_id: int) -> Tagging:
    tagging = await Tagging.objects().where((Tagging.id == tagging_id) & (Tagging.tag == tag_id)).first()
    if tagging is None:
        raise NotFound("There is no such tagging on this tag.")
    return tagging


async def remove_tagging(tag_id: int, tagging_id: int) -> None:
    rows = await (
        Tagging.delete().where((Tagging.id == tagging_id) & (Tagging.tag == tag_id)).returning(Tagging.id)
    )
    if not rows:
        raise NotFound("There is no such tagging on this tag.")
