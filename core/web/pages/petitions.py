"""Public petition pages: the directory, a petition with its sign form, and signing."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from core.errors import NotFound
from core.groups.tables import Group
from core.moderation.screening import screen
from core.petitions import counter
from core.petitions.directory import DirectoryQuery, search
from core.petitions.service import get_petition_by_slug, targets_of
from core.petitions.signing import SignatureInput, confirm_signature, sign
from core.petitions.tables import Petition, Signature
from core.plugins.web import panels_after_signing
from core.settings import current_settings
from core.web.forms import Form, field

RECENT_SIGNERS = 10


def petition_url(petition: Petition) -> str:
    return f"{current_settings().public_url}/p/{petition.slug}"


def share_links(petition: Petition) -> dict[str, str]:
    """Links for sharing; each carries a source code so the dashboard shows what worked."""
    url = petition_url(petition)
    text = quote(f"Sign: {petition.title}")

    def tagged(source: str) -> str:
        return quote(f"{url}?source={source}", safe="")

    return {
        "Email": f"mailto:?subject={text}&body={tagged('share-email')}",
        "WhatsApp": f"https://wa.me/?text={text}%20{tagged('share-whatsapp')}",
        "Facebook": f"https://www.facebook.com/sharer/sharer.php?u={tagged('share-facebook')}",
        "X": f"https://x.com/intent/post?text={text}&url={tagged('share-x')}",
        "Bluesky": f"https://bsky.app/intent/compose?text={text}%20{tagged('share-bluesky')}",
    }


async def recent_signers(petition_id: int) -> list[dict]:
    """First name and area only: enough to feel the momentum, not enough to identify anyone."""
    rows = await (
        Signature.select(
            Signature.created_at,
            Signature.person.given_name,
            Signature.person.region,
            Signature.person.postal_code,
        )
        .where((Signature.petition == petition_id) & (Signature.status == "counted"))
        .order_by(Signature.id, ascending=False)
        .limit(RECENT_SIGNERS)
    )
    return [
        {
            "name": row["person.given_name"] or "Someone",
            "area": row["person.region"] or (row["person.postal_code"] or "")[:3],
            "at": row["created_at"],
        }
        for row in rows
    ]


def origin_of(petition: Petition) -> dict[str, str] | None:
    """Where a federated copy comes from (its origin's page and site), for the page to say so
    and to name the original as canonical; None for this instance's own petitions."""
    if not petition.origin_node:
        return None
    url = petition.origin_url or ""
    return {"url": url, "site": urlsplit(url).netloc or petition.origin_node}


async def petition_context(petition: Petition, **extra: object) -> dict:
    total = await counter.total(petition.id)
    return {
        "origin": origin_of(petition),
        "petition": petition,
        "targets": await targets_of(petition.id),
        "total": total,
        "percent": min(100, round(100 * total / petition.goal)) if petition.goal else 0,
        "signers": await recent_signers(petition.id),
        "url": petition_url(petition),
        "share": share_links(petition),
        **extra,
    }


class PetitionPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/petitions")
    async def directory(
        self,
        q: FromQuery[str] = "",
        shown: Annotated[str, QueryParameter(name="state")] = "open",
        sort: FromQuery[str] = "popular",
        postal_code: FromQuery[str] = "",
        group: FromQuery[str] = "",
        page: FromQuery[int] = 1,
    ) -> Template:
        query = DirectoryQuery(
            q=q[:200],
            state=shown,
            sort=sort,
            postal_code=postal_code[:20],
            page=page,
            group_id=int(group) if group.isdigit() and len(group) < 10 else None,
        )
        groups = await Group.select(Group.id, Group.name).order_by(Group.name)
        return Template(
            template_name="petitions/directory.html",
            context={"query": query, "result": await search(query), "groups": groups},
        )

    @get("/p/{slug:str}")
    async def show(self, slug: FromPath[str], source: FromQuery[str] = "") -> Template:
        petition = await get_petition_by_slug(slug)
        if petition.status in ("draft", "pending", "rejected"):
            raise NotFound("There is no public petition at this address.")
        return Template(
            template_name="petitions/show.html", context=await petition_context(petition, source=source[:100])
        )

    @post("/p/{slug:str}/sign", status_code=200)
    async def sign(self, request: Request, slug: FromPath[str], data: Form) -> Template:
        petition = await get_petition_by_slug(slug)
        if field(data, "website"):  # the honeypot: people never see it, bots fill it in
            panels = await panels_after_signing(request, petition, None, created=True, status="counted")
            return Template(
                template_name="petitions/thanks.html",
                context=await petition_context(
                    petition, created=True, status="counted", action_panels=panels
                ),
            )
        ip = request.client.host if request.client else ""
        email = field(data, "email", max_length=320)
        verdict = await screen(petition.id, ip, email)
        result = await sign(
            petition.id,
            SignatureInput(
                name=field(data, "name", max_length=200),
                email=email,
                postal_code=field(data, "postal_code", max_length=20),
                comment=field(data, "comment", max_length=2000),
                keep_updated=bool(field(data, "keep_updated")),
                share_with_creator=bool(field(data, "share_with_creator")),
                source=field(data, "source", max_length=100),
                ip=ip,
            ),
            held=verdict == "held",
        )
        # Offers from plugins (call the target, RSVP, chip in); a failing one is left out.
        panels = await panels_after_signing(
            request, petition, result.person_id, created=result.created, status=result.status
        )
        return Template(
            template_name="petitions/thanks.html",
            context=await petition_context(
                petition, created=result.created, status=result.status, action_panels=panels
            ),
        )


@get("/signatures/confirm/{token:str}", include_in_schema=False)
async def confirm(token: FromPath[str]) -> Template:
    """Confirmation counts on the visit itself: the link only proves the address is real,
    and asking signers for a second tap loses many of them."""
    petition, newly = await confirm_signature(token)
    return Template(
        template_name="petitions/confirmed.html", context=await petition_context(petition, newly=newly)
    )
