"""Petitions started on another node, kept here as copies that people can sign.

A copy is an ordinary `Petition` row with `origin_node`, `origin_id` and `origin_url` set, so
the directory, the petition page, signing and the OSDI API treat it like any petition while
saying where it comes from. Core writes the row; whoever learns about the copy (the federation
plugin) describes it with a `PetitionCopy`. So a plugin never writes core's tables, and these
functions never touch a petition started here: they only change rows that are copies.

Two kinds of "no longer shown" meet here, and they must not undo each other:
- the origin **withdrew** the petition (its staff took it down there): the copy is hidden like
  a rejected petition, with no reason of ours, and comes back if the origin publishes it again;
- this node's staff **took the copy down** (a report upheld here, with the reason they typed):
  that is this node's decision, so nothing the origin sends later shows the copy again.
The reason tells them apart: only this node's moderation writes a `rejection_reason`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.petitions.markdown import render_markdown
from core.petitions.tables import Petition, PetitionTarget

COPY_STATUSES = ("published", "closed", "delivered", "withdrawn")
SCOPE_KINDS = ("national", "region", "district", "postal")


@dataclass(frozen=True)
class CopyTarget:
    """A target as the origin publishes it: no contact details cross between nodes."""

    name: str
    title: str = ""
    postal_area: str = ""


@dataclass(frozen=True)
class PetitionCopy:
    """Everything the origin shares about a petition (`body` is Markdown)."""

    origin_node: str
    origin_id: str
    origin_url: str
    slug: str
    title: str
    body: str
    status: str
    version: int
    goal: int = 1
    scope_kind: str = "national"
    scope_value: str = ""
    published_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    targets: Sequence[CopyTarget] = field(default_factory=tuple)


def _checked(copy: PetitionCopy) -> None:
    """A bug in the caller, not a user's mistake: the federation plugin validates payloads
    against their schemas before it gets here."""
    if not copy.origin_node or not copy.origin_id:
        raise ValueError("a petition copy needs the origin node and the origin's id")
    _one_of("status", copy.status, COPY_STATUSES)
    _one_of("scope", copy.scope_kind, SCOPE_KINDS)


def _one_of(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"a petition copy's {what} is one of {', '.join(allowed)}, not {value!r}")


async def _unique_slug(slug: str, origin_node: str) -> str:
    """The origin's slug with a piece of its node id, so copies never take a local address."""
    candidate = f"{slug[:100]}-{origin_node[3:9]}"
    while await Petition.exists().where(Petition.slug == candidate):
        candidate = f"{slug[:100]}-{origin_node[3:9]}-{secrets.token_hex(2)}"
    return candidate


def _shown_status(status: str) -> str:
    """A withdrawn copy is hidden everywhere a rejected petition is (pages, directory, API)."""
    return "rejected" if status == "withdrawn" else status


def _not_taken_down_here() -> Any:
    """Rows whose status the origin may still change: all but copies this node's staff took
    down (rejected, with their reason)."""
    return (Petition.status != "rejected") | (Petition.rejection_reason == "")


def taken_down_here(petition: Petition) -> bool:
    """Whether this node's staff took this copy down (not the origin withdrawing it)."""
    return bool(petition.origin_node) and petition.status == "rejected" and bool(petition.rejection_reason)


async def save_petition_copy(copy: PetitionCopy, petition_id: int | None = None) -> int:
    """Create a copy (`petition_id` None) or replace an existing copy's text, status and
    targets; returns its petition id. Call it inside your transaction. Deciding which version
    is newer is the caller's business; this stores what it is given, except that a copy this
    node's staff took down stays down."""
    _checked(copy)
    status = _shown_status(copy.status)
    values = {
        Petition.title: copy.title[:150],
        Petition.body: copy.body,
        Petition.body_html: render_markdown(copy.body),
        Petition.goal: max(copy.goal, 1),
        Petition.scope_kind: copy.scope_kind,
        Petition.scope_value: copy.scope_value[:100],
        Petition.version: copy.version,
        Petition.published_at: copy.published_at,
        Petition.updated_at: copy.updated_at or datetime.now(UTC),
        Petition.closed_at: copy.closed_at,
        Petition.origin_url: copy.origin_url,
    }
    if petition_id is None:
        rows = await Petition.insert(
            Petition(
                slug=await _unique_slug(copy.slug, copy.origin_node),
                origin_node=copy.origin_node,
                origin_id=copy.origin_id,
                status=status,
                **{column._meta.name: value for column, value in values.items()},
            )
        ).returning(Petition.id)
        petition_id = int(rows[0]["id"])
    else:
        updated = (
            await Petition.update(values)
            .where((Petition.id == petition_id) & (Petition.origin_node == copy.origin_node))
            .returning(Petition.id)
        )
        if not updated:
            raise ValueError(f"petition {petition_id} is not a copy of {copy.origin_node}'s petition")
        await Petition.update({Petition.status: status}).where(
            (Petition.id == petition_id) & _not_taken_down_here()
        )
    await PetitionTarget.delete().where(PetitionTarget.petition == petition_id)
    if copy.targets:
        await PetitionTarget.insert(
            *[
                PetitionTarget(
                    petition=petition_id,
                    position=position,
                    name=target.name[:200],
                    title=target.title[:200],
                    postal_area=target.postal_area[:100],
                )
                for position, target in enumerate(copy.targets)
            ]
        )
    return petition_id


async def set_petition_copy_status(petition_id: int, status: str, closed_at: datetime | None) -> None:
    """The origin closed, delivered or withdrew its petition: the copy stops taking signatures
    too (a withdrawn one is hidden as well). Does nothing to a petition that is not a copy, nor
    to a copy this node's staff took down."""
    _one_of("status", status, COPY_STATUSES)
    await Petition.update({Petition.status: _shown_status(status), Petition.closed_at: closed_at}).where(
        (Petition.id == petition_id) & (Petition.origin_node != "") & _not_taken_down_here()
    )
