"""Signing a petition: one short form, one request, one transaction.

Signing twice with the same (normalized) email changes nothing and says so. A signer's
consents only ever widen by signing: ticking "keep me updated" subscribes them, leaving it
unticked never unsubscribes someone who had agreed before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from core.accounts.tokens import hash_secret, new_secret
from core.errors import Gone, NotFound, UserError
from core.instance_settings import get_policy
from core.mail import OutgoingMail, queue_mail
from core.outbox import transaction
from core.people.emails import InvalidEmail, clean_email, email_key
from core.people.tables import Person
from core.petitions import counter
from core.petitions.tables import Petition, Signature
from core.plugins.events import emit, handled
from core.settings import current_settings

NAME_MAX = 200
COMMENT_MAX = 2000
POSTAL_MAX = 20
SOURCE_MAX = 100


@dataclass(frozen=True)
class SignatureInput:
    name: str
    email: str
    postal_code: str = ""
    comment: str = ""
    keep_updated: bool = False
    share_with_creator: bool = False
    source: str = ""
    ip: str = ""


@dataclass(frozen=True)
class SignResult:
    signature_id: int
    person_id: int
    created: bool
    status: str


def _clean(data: SignatureInput) -> tuple[SignatureInput, str]:
    name = " ".join(data.name.split())
    if not name:
        raise UserError("Enter your name.")
    if len(name) > NAME_MAX:
        raise UserError(f"Names are limited to {NAME_MAX} characters.")
    try:
        address = clean_email(data.email)
    except InvalidEmail as exc:
        raise UserError(str(exc)) from None
    postal = data.postal_code.strip().upper()
    if len(postal) > POSTAL_MAX:
        raise UserError(f"Postal codes are limited to {POSTAL_MAX} characters.")
    comment = data.comment.strip()
    if len(comment) > COMMENT_MAX:
        raise UserError(f"Keep your comment under {COMMENT_MAX} characters.")
    source = "".join(c for c in data.source.strip() if c.isalnum() or c in "-_.:")[:SOURCE_MAX]
    cleaned = SignatureInput(
        name=name,
        email=address,
        postal_code=postal,
        comment=comment,
        keep_updated=data.keep_updated,
        share_with_creator=data.share_with_creator,
        source=source,
        ip=data.ip[:45],
    )
    return cleaned, email_key(address)


async def _signable(petition_id: int) -> Petition:
    petition = await Petition.objects().where(Petition.id == petition_id).first()
    if petition is None:
        raise NotFound("There is no such petition.")
    if petition.status == "published":
        return petition
    if petition.status in ("closed", "delivered"):
        raise Gone("This petition is closed and no longer takes signatures.")
    raise NotFound("This petition is not open for signatures.")


# One statement whatever the member's history: create them, or widen their consent and fill a
# missing postal code — never narrow or overwrite what they told us before.
_UPSERT_PERSON = """
INSERT INTO person (email, email_key, given_name, family_name, postal_code,
                    consent_instance_email, source, created_at, updated_at)
VALUES ({}, {}, {}, {}, {}, {}, 'petition', {}, {})
ON CONFLICT (email_key) DO UPDATE SET
  consent_instance_email = person.consent_instance_email OR excluded.consent_instance_email,
  postal_code = CASE WHEN person.postal_code = '' THEN excluded.postal_code
                     ELSE person.postal_code END
RETURNING id
"""


async def _person_for(data: SignatureInput, key: str) -> int:
    given, _, family = data.name.partition(" ")
    now = datetime.now(UTC)
    rows = await Person.raw(
        _UPSERT_PERSON, data.email, key, given, family, data.postal_code, data.keep_updated, now, now
    )
    return rows[0]["id"]


async def sign(petition_id: int, data: SignatureInput, *, held: bool = False) -> SignResult:
    """Record a signature (idempotent per person). `held` keeps it aside, uncounted."""
    cleaned, key = _clean(data)
    petition = await _signable(petition_id)
    confirm = await get_policy("confirm_signatures")
    status = "held" if held else ("unconfirmed" if confirm else "counted")
    async with transaction():
        # Whether the signer is new is asked only when a plugin listens for new people.
        is_new = handled("person.created") and not await Person.exists().where(Person.email_key == key)
        person_id = await _person_for(cleaned, key)
        if is_new:
            await emit("person.created", str(person_id), {"person_id": person_id, "source": "petition"})
        inserted = (
            await Signature.insert(
                Signature(
                    petition=petition_id,
                    person=person_id,
                    comment=cleaned.comment,
                    source=cleaned.source,
                    share_with_creator=cleaned.share_with_creator,
                    status=status,
                    ip=cleaned.ip,
                    email_domain=key.rsplit("@", 1)[1],
                )
            )
            .on_conflict(target=(Signature.petition, Signature.person), action="DO NOTHING")
            .returning(Signature.id)
        )
        if inserted:
            if status == "counted":
                await counter.add(petition_id)
            elif status == "unconfirmed":
                await _ask_for_confirmation(inserted[0]["id"], petition, cleaned.email)
            # Queued in this transaction, delivered by workers: plugins never slow signing.
            await emit(
                "signature.created",
                str(inserted[0]["id"]),
                {
                    "signature_id": inserted[0]["id"],
                    "petition_id": petition_id,
                    "person_id": person_id,
                    "status": status,
                    "source": cleaned.source,
                },
            )
            return SignResult(inserted[0]["id"], person_id, True, status)
    existing = (
        await Signature.select(Signature.id, Signature.status)
        .where((Signature.petition == petition_id) & (Signature.person == person_id))
        .first()
    )
    assert existing is not None
    return SignResult(existing["id"], person_id, False, existing["status"])


async def _ask_for_confirmation(signature_id: int, petition: Petition, email: str) -> None:
    token, token_hash = new_secret()
    await Signature.update({Signature.confirmation_hash: token_hash}).where(Signature.id == signature_id)
    url = f"{current_settings().public_url}/signatures/confirm/{token}"
    await queue_mail(
        OutgoingMail(
            to=email,
            subject=f"Confirm your signature: {petition.title}",
            text=(
                f"Thank you for signing “{petition.title}”.\n\n"
                f"Your signature counts once you confirm it:\n{url}\n\n"
                "If you did not sign, ignore this email and nothing will be counted.\n"
            ),
        ),
        key=f"confirm-signature:{signature_id}",
    )


async def confirm_signature(token: str) -> tuple[Petition, bool]:
    """Count an unconfirmed signature. Returns (petition, newly_confirmed); confirming twice
    is harmless."""
    if not token or len(token) > 200:
        raise NotFound("This confirmation link is not valid. Check that you copied all of it.")
    async with transaction():
        row = (
            await Signature.select(Signature.id, Signature.petition, Signature.person, Signature.status)
            .where(Signature.confirmation_hash == hash_secret(token))
            .first()
        )
        if row is None:
            raise NotFound("This confirmation link is not valid. Check that you copied all of it.")
        petition = await Petition.objects().where(Petition.id == row["petition"]).first()
        assert petition is not None
        if row["status"] != "unconfirmed":
            return petition, False
        if petition.status != "published":
            raise Gone("This petition closed before your signature was confirmed.")
        await Signature.update(
            {Signature.status: "counted", Signature.confirmed_at: datetime.now(UTC)}
        ).where((Signature.id == row["id"]) & (Signature.status == "unconfirmed"))
        await counter.add(petition.id)
        await emit(
            "signature.confirmed",
            str(row["id"]),
            {
                "signature_id": row["id"],
                "petition_id": petition.id,
                "person_id": row["person"],
                "via": "email",
            },
        )
    return petition, True
