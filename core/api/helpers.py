"""OSDI helpers: record_signature_helper and person_signup_helper.

Both work without a token, so a sign-up or petition form on another site can post straight
to them from the browser. Then the answer is a bare acknowledgment that says nothing about
the person (not even whether they had signed before: always 200), and each address may make
ANONYMOUS_LIMIT calls a minute.

With a token the call is not rate-limited (tokens are accountable and revocable) and the
answer is the full resource when the token may read it: the signature for staff and the
petition's creator, the person for staff (201 when created, 200 when it existed). Other
tokens get the same acknowledgment as anonymous callers, so the helpers never become a way
around the read rules.

Rate limit: a fixed window per client address in the `rate_bucket` table
(core.moderation.rate_limits), checked before the body is even read. That limiter is shared
by every web process (Litestar's RateLimitMiddleware keeps its counts in each process's
memory, so N processes would allow N times the limit and a restart would forget it), and it
is the one signing and abuse reports already use; addresses an admin trusts (the
"trusted_ips" policy, e.g. a server that relays a form) are exempt. Anonymous signatures also
pass the same abuse screening as the sign form (core.moderation.screening).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import MediaType, Request, Response, post
from litestar.params import FromPath, JSONBody

from core.accounts.roles import Viewer
from core.api.body import PersonBody, ReferrerDataBody, StrictJSON, required
from core.api.hal import HAL_JSON, checked_id, optional_viewer
from core.api.people import person_resource, person_row
from core.api.signatures import may_read_signatures, signature_for
from core.errors import Forbidden, NotFound, TooManyRequests, UserError
from core.instance_settings import get_policy
from core.moderation import rate_limits
from core.moderation.screening import is_trusted, normalize_ip, screen
from core.outbox import transaction
from core.people.emails import email_key
from core.people.signup import PersonInput, clean_person, merge_into, sign_up
from core.people.tables import Person
from core.petitions.signing import SignatureInput, sign
from core.petitions.tables import Petition

# Calls without a token, per client address, across both helpers.
ANONYMOUS_LIMIT = rate_limits.Limit("osdi-helpers", 60, 20)


def _client_ip(request: Request) -> str:
    return normalize_ip(request.client.host) if request.client else ""


async def limit_anonymous(request: Request) -> None:
    """Before the body is read: refuse a wrong token (401), and count a call without one."""
    if optional_viewer(request) is not None:
        return
    ip = _client_ip(request)
    if not ip or await is_trusted(ip):
        return
    now = rate_limits.clock()
    [count] = await rate_limits.hit([rate_limits.Bucket(ANONYMOUS_LIMIT, "all", ip)], at=now)
    if count.exceeded:
        wait = count.retry_after(now)
        raise TooManyRequests(
            f"Too many submissions from your address (at most {ANONYMOUS_LIMIT.allowed} a minute "
            f"without a token). Wait {wait} second{'s' if wait != 1 else ''} and try again, "
            "or send an OSDI-API-Token."
        )


_HELPER_OPTIONS: dict[str, Any] = {"before_request": limit_anonymous, "return_dto": None}


class SignatureHelperBody(msgspec.Struct):
    person: PersonBody
    comments: str | None = None
    referrer_data: ReferrerDataBody | None = None
    share_with_creator: bool | None = None
    identifiers: list[str] | None = None
    origin_system: str | None = None
    action_date: str | None = None


class SignupHelperBody(msgspec.Struct):
    person: PersonBody
    add_tags: list[str] | None = None


def _text(value: str | int | None) -> str:
    return "" if value is None else str(value)


def person_input(body: PersonBody, *, default_source: str = "") -> PersonInput:
    """OSDI's person shape as the service's input: the primary (or first) address, number."""

    def primary(items: list[Any] | None) -> Any:
        items = items or []
        return next((i for i in items if i.primary), items[0] if items else None)

    email = primary(body.email_addresses)
    if email is None or not email.address:
        raise UserError("person.email_addresses: give at least one email address.")
    postal = primary(body.postal_addresses)
    phone = primary(body.phone_numbers)
    consents = body.consents
    return PersonInput(
        email=email.address,
        given_name=body.given_name or "",
        family_name=body.family_name or "",
        postal_code=(postal and postal.postal_code) or "",
        locality=(postal and postal.locality) or "",
        region=(postal and postal.region) or "",
        country=(postal and postal.country) or "",
        phone=_text(phone.number) if phone else "",
        source=body.source or default_source,
        # OSDI's way to opt in: an email address whose status is "subscribed".
        consent_instance_email=(email.status or "").lower() == "subscribed"
        or bool(consents and consents.instance_email),
        consent_national=bool(consents and consents.national_campaigns),
        consent_share_with_creators=bool(consents and consents.share_with_creators),
    )


def _acknowledgment(message: str) -> Response[dict[str, Any]]:
    return Response({"message": message}, status_code=200, media_type=MediaType.JSON)


async def record_signature(
    petition_id: int, body: SignatureHelperBody, ip: str, *, screened: bool
) -> tuple[int, bool]:
    """Sign, then add what the person record can use beyond the signature (phone, city, …):
    everything as sent for a person new to this instance, otherwise only what is empty.
    One transaction. `screened` signatures pass the sign form's abuse screening first (too
    fast: 429; blocked or suspicious: kept but held for staff)."""
    details = clean_person(person_input(body.person, default_source="petition"))
    name = f"{details.given_name} {details.family_name}".strip()
    referrer = body.referrer_data
    held = screened and await screen(petition_id, ip, details.email) == "held"
    async with transaction():
        known = await Person.exists().where(Person.email_key == email_key(details.email))
        result = await sign(
            petition_id,
            SignatureInput(
                name=name,
                email=details.email,
                postal_code=details.postal_code,
                comment=body.comments or "",
                keep_updated=details.consent_instance_email,
                share_with_creator=bool(body.share_with_creator),
                source=(referrer.source or "") if referrer else "",
                ip=ip,
            ),
            held=held,
        )
        await merge_into(result.person_id, details, overwrite=not known)
    return result.signature_id, result.created


@post(
    "/petitions/{petition_id:int}/record_signature_helper",
    media_type=HAL_JSON,
    summary="Sign a petition (token optional)",
    description="Creates the signature and, if new, the person. Without a token: rate-limited, and the "
    "answer is always 200 with a short message. Except with staff tokens, signatures pass the sign "
    "form's abuse screening. With a token that may read the petition's signatures "
    "(staff, or the petition's creator): the signature, 201 when new and 200 when it already existed.",
    tags=["OSDI: helpers"],
    dto=StrictJSON[SignatureHelperBody],
    **_HELPER_OPTIONS,
)
async def record_signature_helper(
    request: Request, petition_id: FromPath[int], data: JSONBody[SignatureHelperBody | None] = None
) -> Response[dict[str, Any]]:
    data = required(data)
    viewer = optional_viewer(request)
    petition = await Petition.objects().where(Petition.id == checked_id(petition_id, "petition")).first()
    if petition is None:
        raise NotFound("There is no such petition.")
    trusted = viewer is not None and viewer.has_role("staff")
    signature_id, created = await record_signature(
        petition.id, data, _client_ip(request), screened=not trusted
    )
    if viewer is not None and may_read_signatures(viewer, petition):
        resource = await signature_for(viewer, petition_id, signature_id)
        return Response(resource, status_code=201 if created else 200, media_type=HAL_JSON)
    if await get_policy("confirm_signatures"):
        return _acknowledgment("Thank you. Please confirm your signature from the email we sent you.")
    return _acknowledgment("Thank you for signing.")


def _may_read_people(viewer: Viewer | None) -> bool:
    return viewer is not None and viewer.has_role("staff")


@post(
    "/people/person_signup_helper",
    media_type=HAL_JSON,
    summary="Sign a person up (token optional)",
    description="Creates the person, or updates the one with the same email address. Consents only "
    "widen. Without a staff token only empty fields are filled in and `add_tags` is refused. Without "
    "a token: rate-limited, always 200 with a short message. With a staff token: the person, 201 when "
    "new and 200 when updated.",
    tags=["OSDI: helpers"],
    dto=StrictJSON[SignupHelperBody],
    **_HELPER_OPTIONS,
)
async def person_signup_helper(
    request: Request, data: JSONBody[SignupHelperBody | None] = None
) -> Response[dict[str, Any]]:
    data = required(data)
    viewer = optional_viewer(request)
    staff = _may_read_people(viewer)
    if data.add_tags and not staff:
        raise Forbidden("add_tags: tagging people needs a staff token.")
    result = await sign_up(
        person_input(data.person, default_source="signup"), overwrite=staff, tags=data.add_tags or ()
    )
    if staff:
        resource = person_resource(await person_row(result.person_id))
        return Response(resource, status_code=201 if result.created else 200, media_type=HAL_JSON)
    return _acknowledgment("Thank you for signing up.")
