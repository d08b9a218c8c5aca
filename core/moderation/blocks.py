"""Staff blocks on IP addresses and email domains, and the held signatures they (and the rate
limits) set aside. A held signature is never lost: staff release it — then it counts — or
leave it where it is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from core.errors import NotFound, UserError
from core.moderation.screening import normalize_ip
from core.moderation.tables import Block
from core.outbox import transaction
from core.petitions import counter
from core.petitions.service import get_petition
from core.petitions.tables import Signature
from core.plugins.events import emit

KINDS = ("ip", "domain")
REASON_MAX = 500
HELD_PAGE = 200
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class BlockRow:
    id: int
    kind: str
    value: str
    petition_id: int | None
    reason: str
    created_at: datetime


def clean_block_value(kind: str, value: str) -> str:
    value = value.strip().lower()
    if kind == "ip":
        ip = normalize_ip(value)
        if not ip:
            raise UserError(f"{value[:60]!r} is not an IP address (for example 203.0.113.7 or 2001:db8::1).")
        return ip
    if kind == "domain":
        value = value.removeprefix("@")
        if not _DOMAIN.match(value):
            raise UserError(f"{value[:60]!r} is not an email domain (for example example.org).")
        return value
    raise UserError("Choose what to block: an IP address or an email domain.")


async def block(
    kind: str, value: str, *, petition_id: int | None, login_id: int | None, reason: str = ""
) -> BlockRow:
    """Hold future signatures from an IP or a domain, on one petition or (petition_id None)
    everywhere. Blocking what is already blocked changes nothing."""
    value = clean_block_value(kind, value)
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise UserError(f"Keep the reason under {REASON_MAX} characters.")
    if petition_id is not None:
        await get_petition(petition_id)
    same = (Block.kind == kind) & (Block.value == value)
    same &= Block.petition.is_null() if petition_id is None else (Block.petition == petition_id)
    async with transaction():
        existing = await Block.objects().where(same).first()
        if existing is None:
            await Block.insert(
                Block(kind=kind, value=value, petition=petition_id, reason=reason, created_by=login_id)
            )
            existing = await Block.objects().where(same).first()
    assert existing is not None
    return _row(existing)


async def unblock(block_id: int) -> None:
    deleted = await Block.delete().where(Block.id == block_id).returning(Block.id)
    if not deleted:
        raise NotFound("There is no such block; it may have been removed already.")


def _row(b: Block) -> BlockRow:
    return BlockRow(b.id, b.kind, b.value, b.petition, b.reason, b.created_at)


async def blocks_for(petition_id: int) -> list[BlockRow]:
    """The blocks that apply to a petition: its own and those everywhere."""
    rows = (
        await Block.objects()
        .where(Block.petition.is_null() | (Block.petition == petition_id))
        .order_by(Block.id, ascending=False)
    )
    return [_row(b) for b in rows]


async def held_signatures(petition_id: int, *, limit: int = HELD_PAGE) -> tuple[list[dict], int]:
    """The newest held signatures on a petition (for staff), and how many are held in all."""
    rows = (
        await Signature.select(
            Signature.id,
            Signature.ip,
            Signature.email_domain,
            Signature.created_at,
            Signature.comment,
            Signature.person.email,
            Signature.person.given_name,
            Signature.person.family_name,
        )
        .where((Signature.petition == petition_id) & (Signature.status == "held"))
        .order_by(Signature.id, ascending=False)
        .limit(limit)
    )
    total = await Signature.count().where((Signature.petition == petition_id) & (Signature.status == "held"))
    return rows, total


async def release(petition_id: int, signature_ids: list[int] | None) -> int:
    """Count held signatures on a petition: those listed, or all of them (None). Returns how
    many were released; releasing one twice counts it once."""
    await get_petition(petition_id)
    if signature_ids is not None and not signature_ids:
        raise UserError("Choose the held signatures to release.")
    where = (Signature.petition == petition_id) & (Signature.status == "held")
    if signature_ids is not None:
        where &= Signature.id.is_in(signature_ids)
    async with transaction():
        released = (
            await Signature.update({Signature.status: "counted"})
            .where(where)
            .returning(Signature.id, Signature.person)
        )
        if released:
            await counter.add(petition_id, len(released))
        for row in released:  # plugins hear that these now count, as for a confirmed one
            await emit(
                "signature.confirmed",
                str(row["id"]),
                {
                    "signature_id": row["id"],
                    "petition_id": petition_id,
                    "person_id": row["person"],
                    "via": "release",
                },
            )
    return len(released)
