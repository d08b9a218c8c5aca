"""Starting, editing, publishing and closing petitions: the rules, without HTTP."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.errors import Conflict, Forbidden, NotFound, UserError
from core.instance_settings import get_policy
from core.petitions.markdown import render_markdown
from core.petitions.tables import SCOPES, Petition, PetitionTarget
from core.plugins.events import emit

TITLE_MAX = 150
BODY_MAX = 20_000
GOAL_MAX = 100_000_000
TARGETS_MAX = 20


@dataclass(frozen=True)
class TargetInput:
    name: str
    title: str = ""
    phone: str = ""
    email: str = ""
    postal_area: str = ""


@dataclass(frozen=True)
class PetitionInput:
    title: str
    body: str
    targets: list[TargetInput] = field(default_factory=list)
    summary: str = ""
    goal: int = 1000
    scope_kind: str = "national"
    scope_value: str = ""
    group_id: int | None = None


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(message)


def validate(data: PetitionInput) -> PetitionInput:
    """Check what a person typed; every message says what to change."""
    title = " ".join(data.title.split())
    _require(len(title) >= 10, "Give the petition a title of at least 10 characters.")
    _require(len(title) <= TITLE_MAX, f"Keep the title under {TITLE_MAX} characters.")
    body = data.body.strip()
    _require(len(body) >= 30, "Say what you are asking for and why, in at least 30 characters.")
    _require(len(body) <= BODY_MAX, f"Keep the text under {BODY_MAX:,} characters.")
    _require(len(data.summary) <= 300, "Keep the summary under 300 characters.")
    _require(1 <= data.goal <= GOAL_MAX, f"Set a goal between 1 and {GOAL_MAX:,} signatures.")
    _require(data.scope_kind in SCOPES, f"Scope must be one of {', '.join(SCOPES)}.")
    _require(
        data.scope_kind == "national" or bool(data.scope_value.strip()),
        f"Say which {data.scope_kind} the petition is for.",
    )
    targets = [t for t in data.targets if t.name.strip()]
    _require(bool(targets), "Name at least one target: the person or body who can decide.")
    _require(len(targets) <= TARGETS_MAX, f"Name at most {TARGETS_MAX} targets.")
    for target in targets:
        _require(
            len(target.name) <= 200 and len(target.title) <= 200,
            "Keep target names and titles under 200 characters.",
        )
        _require(len(target.phone) <= 40, "That phone number is too long.")
        _require(len(target.email) <= 320, "That target email is too long.")
    return PetitionInput(
        title=title,
        body=body,
        targets=targets,
        summary=data.summary.strip(),
        goal=data.goal,
        scope_kind=data.scope_kind,
        scope_value="" if data.scope_kind == "national" else data.scope_value.strip(),
        group_id=data.group_id,
    )


def slugify(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80].rstrip("-")
    return slug or "petition"


async def _unique_slug(title: str) -> str:
    base = slugify(title)
    slug = base
    while await Petition.exists().where(Petition.slug == slug):
        slug = f"{base}-{secrets.token_hex(2)}"
    return slug


async def _replace_targets(petition_id: int, targets: list[TargetInput]) -> None:
    await PetitionTarget.delete().where(PetitionTarget.petition == petition_id)
    if targets:
        await PetitionTarget.insert(
            *[
                PetitionTarget(
                    petition=petition_id,
                    position=i,
                    name=t.name.strip(),
                    title=t.title.strip(),
                    phone=t.phone.strip(),
                    email=t.email.strip(),
                    postal_area=t.postal_area.strip(),
                )
                for i, t in enumerate(targets)
            ]
        )


async def create_petition(data: PetitionInput, *, creator_id: int | None) -> Petition:
    """A new petition, as a draft."""
    from core.db import write_transaction

    clean = validate(data)
    async with write_transaction():
        rows = await Petition.insert(
            Petition(
                slug=await _unique_slug(clean.title),
                title=clean.title,
                summary=clean.summary,
                body=clean.body,
                body_html=render_markdown(clean.body),
                goal=clean.goal,
                scope_kind=clean.scope_kind,
                scope_value=clean.scope_value,
                group=clean.group_id,
                creator=creator_id,
                status="draft",
            )
        ).returning(Petition.id)
        await _replace_targets(rows[0]["id"], clean.targets)
    return await get_petition(rows[0]["id"])


async def update_petition(petition_id: int, data: PetitionInput) -> Petition:
    """Edit the text. Published petitions keep their slug so shared links stay valid."""
    from core.outbox import transaction

    clean = validate(data)
    petition = await get_petition(petition_id)
    if petition.status in ("closed", "delivered"):
        raise Conflict("This petition is closed; its text can no longer change.")
    async with transaction():
        await Petition.update(
            {
                Petition.title: clean.title,
                Petition.summary: clean.summary,
                Petition.body: clean.body,
                Petition.body_html: render_markdown(clean.body),
                Petition.goal: clean.goal,
                Petition.scope_kind: clean.scope_kind,
                Petition.scope_value: clean.scope_value,
                Petition.group: clean.group_id,
                Petition.updated_at: datetime.now(UTC),
                Petition.version: Petition.version + 1,
            }
        ).where(Petition.id == petition_id)
        await _replace_targets(petition_id, clean.targets)
        updated = await get_petition(petition_id)
        await emit(
            "petition.updated",
            f"{updated.id}:{updated.version}",
            {
                "petition_id": updated.id,
                "slug": updated.slug,
                "title": updated.title,
                "status": updated.status,
                "version": updated.version,
            },
        )
    return updated


async def get_petition(petition_id: int) -> Petition:
    petition = await Petition.objects().where(Petition.id == petition_id).first()
    if petition is None:
        raise NotFound("There is no such petition. It may have been removed.")
    return petition


async def get_petition_by_slug(slug: str) -> Petition:
    petition = await Petition.objects().where(Petition.slug == slug[:120]).first()
    if petition is None:
        raise NotFound("There is no petition at this address. Check the link, or search the petitions.")
    return petition


async def targets_of(petition_id: int) -> list[PetitionTarget]:
    return (
        await PetitionTarget.objects()
        .where(PetitionTarget.petition == petition_id)
        .order_by(PetitionTarget.position)
    )


async def _set_status(petition: Petition, status: str, **extra: object) -> Petition:
    values = {
        Petition.status: status,
        Petition.updated_at: datetime.now(UTC),
        Petition.version: Petition.version + 1,
    }
    values.update({getattr(Petition, k): v for k, v in extra.items()})
    from core.outbox import transaction

    async with transaction():  # the event is queued if and only if the change commits
        await Petition.update(values).where(Petition.id == petition.id)
        changed = await get_petition(petition.id)
        await _emit_status_event(changed)
    return changed


# Status changes plugins hear about (core.plugin_api.EVENTS).
_STATUS_EVENTS = {
    "published": "petition.published",
    "closed": "petition.closed",
    "delivered": "petition.delivered",
    "rejected": "petition.taken_down",
}


async def _emit_status_event(petition: Petition) -> None:
    event = _STATUS_EVENTS.get(petition.status)
    if event is None or (event == "petition.taken_down" and petition.published_at is None):
        return  # a petition rejected before anyone saw it is nobody else's business
    data: dict[str, object] = {"petition_id": petition.id, "slug": petition.slug, "title": petition.title}
    if event == "petition.published":
        data |= {"group_id": petition.group, "creator_id": petition.creator}
    elif event == "petition.taken_down":
        data["version"] = petition.version
    else:
        from core.petitions.counter import total

        data["signature_count"] = await total(petition.id)
    await emit(event, f"{petition.id}:{petition.version}", data)


async def submit_petition(petition_id: int, *, trusted: bool = False) -> Petition:
    """Publish a draft, or queue it for review when the instance pre-moderates. Staff and
    admins (`trusted`) publish at once."""
    petition = await get_petition(petition_id)
    if petition.status not in ("draft", "rejected"):
        raise Conflict(f"This petition is already {petition.status}.")
    if not trusted and await get_policy("moderation") == "pre":
        return await _set_status(petition, "pending")
    return await _set_status(petition, "published", published_at=datetime.now(UTC))


async def approve_petition(petition_id: int) -> Petition:
    petition = await get_petition(petition_id)
    if petition.status != "pending":
        raise Conflict(f"Only petitions waiting for review can be approved; this one is {petition.status}.")
    return await _set_status(petition, "published", published_at=datetime.now(UTC), rejection_reason="")


async def reject_petition(petition_id: int, reason: str) -> Petition:
    reason = reason.strip()
    if not reason:
        raise UserError("Say why the petition is rejected; the creator will read it.")
    petition = await get_petition(petition_id)
    if petition.status not in ("pending", "published"):
        raise Conflict(f"A {petition.status} petition cannot be rejected.")
    return await _set_status(petition, "rejected", rejection_reason=reason[:2000])


async def close_petition(petition_id: int) -> Petition:
    petition = await get_petition(petition_id)
    if petition.status != "published":
        raise Conflict(f"Only an open petition can be closed; this one is {petition.status}.")
    return await _set_status(petition, "closed", closed_at=datetime.now(UTC))


async def mark_delivered(petition_id: int) -> Petition:
    petition = await get_petition(petition_id)
    if petition.status not in ("published", "closed"):
        raise Conflict(f"A {petition.status} petition cannot be delivered.")
    now = datetime.now(UTC)
    return await _set_status(petition, "delivered", delivered_at=now, closed_at=petition.closed_at or now)


def ensure_editable_by(petition: Petition, *, person_id: int, is_staff: bool) -> None:
    if not is_staff and petition.creator != person_id:
        raise Forbidden("Only the petition's creator or staff can change it.")
