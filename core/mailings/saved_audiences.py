"""Saved audiences: a named audience definition staff reuse ("volunteers in Ohio who did not
sign X"). Only the definition is kept, never a list of people, so a saved audience always means
who matches it *now*. A saved audience cannot name another saved audience (one level, so a
definition can never loop)."""

from __future__ import annotations

from typing import Any

from core.errors import Conflict, NotFound, UserError
from core.mailings.audience import expand, parse_audience
from core.mailings.tables import Mailing, SavedAudience

NAME_MAX = 100


async def list_saved() -> list[dict[str, Any]]:
    return await SavedAudience.select(
        SavedAudience.id, SavedAudience.name, SavedAudience.spec, SavedAudience.created_at
    ).order_by(SavedAudience.name)


async def save_audience(name: str, spec: dict[str, Any], *, author_login_id: int | None) -> int:
    """Save `spec` under `name`; the name must be new. Returns the saved audience's id."""
    name = " ".join(name.split())
    if not name:
        raise UserError("Give the audience a name, so you can find it again.")
    if len(name) > NAME_MAX:
        raise UserError(f"Keep the audience's name under {NAME_MAX} characters.")
    audience = parse_audience(spec)
    if audience.kind == "saved":
        raise UserError("Save the audience itself, not a saved audience: choose who it reaches.")
    await expand(audience)  # what it names must exist
    if await SavedAudience.exists().where(SavedAudience.name == name):
        raise UserError(f"There is already a saved audience called “{name}”; choose another name.")
    rows = await SavedAudience.insert(
        SavedAudience(name=name, spec=audience.to_spec(), author=author_login_id)
    ).returning(SavedAudience.id)
    return rows[0]["id"]


async def delete_saved(audience_id: int) -> None:
    """Delete a saved audience that no draft or scheduled mailing still uses (those would lose
    their audience); sent mailings keep their report either way."""
    if not 0 < audience_id < 2**31 or not await SavedAudience.exists().where(SavedAudience.id == audience_id):
        raise NotFound("There is no such saved audience.")
    pending = await Mailing.select(Mailing.id, Mailing.audience).where(
        Mailing.status.is_in(["draft", "scheduled"])
    )
    for row in pending:
        try:
            audience = parse_audience(row["audience"])
        except UserError:
            continue
        if audience.kind == "saved" and audience.value == audience_id:
            raise Conflict(
                f"Mailing {row['id']} (a draft or scheduled) uses this audience; change its audience first."
            )
    await SavedAudience.delete().where(SavedAudience.id == audience_id)
