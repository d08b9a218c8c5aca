"""Pooled reach, the partner's side: mailing a sample of this instance's members for a boost
another node runs (the hub's federation-wide boost), and counting what it brought.

The member relationship stays here. The sample is drawn from this instance's eligible members
(the same rules as its own boosts: subscribed, consented, address not suppressed, campaign
email on, has not signed, was never mailed about the petition, inside its scope, and under the
member gap and weekly cap), ranked by HMAC(this instance's secret key, request key ‖ member
id) and cut at the target count. The ranking is a pseudo-random order nobody outside can
predict or steer, and the same for the same request, so a request handled twice picks the
same members; the mailing's source code is derived from the request key, so a second
handling finds the first mailing instead of making another (and a delivery is unique per
mailing and member anyway). Fewer eligible members than `k_min` is refused: a tiny sample's
counts would point at individuals.

The email is an ordinary mailing of kind "boost" from this instance's own address, linking to
this instance's page for the petition (its local copy), with the source code in the link, so
the signature is made, counted and attributed here. What goes back are three counts.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.boost.runner import _audience_spec, create_boost_mailing, current_caps, petition_scope
from core.boost.sampling import Scope, eligibility, id_list
from core.instance_settings import get_policy
from core.mailings.sending import wake
from core.mailings.tables import Delivery, Mailing
from core.outbox import transaction
from core.people.tables import Person
from core.petitions.tables import Petition
from core.settings import current_settings

__all__ = [
    "HostedResults",
    "HostedSample",
    "boost_reach",
    "hosted_results",
    "hosted_source_code",
    "mail_hosted_sample",
    "rank_members",
]

OPTED_OUT = "this instance does not take part in federation-wide boosts"


@dataclass(frozen=True)
class HostedSample:
    """What became of a request: the mailing and how many were queued, or why it was refused
    (`refused` is empty when the sample was mailed)."""

    mailing_id: int | None
    queued: int
    refused: str = ""


@dataclass(frozen=True)
class HostedResults:
    """Cumulative counts of a hosted sample: emails sent, signatures through its link,
    members who unsubscribed from it."""

    sent: int
    signed: int
    unsubscribed: int


def hosted_source_code(request_key: str) -> str:
    """The mailing's source code: derived from the request, so it is found again."""
    return "fed-" + hashlib.sha256(request_key.encode()).hexdigest()[:20]


def rank_members(request_key: str, member_ids: list[int], secret: str | None = None) -> list[int]:
    """Members in the order HMAC(secret, request key ‖ member id) puts them: stable for a
    request, unrelated between requests, and unguessable without the instance's secret."""
    key = (secret if secret is not None else current_settings().secret_key).encode()

    def rank(member_id: int) -> bytes:
        return hmac.new(key, f"{request_key}\x1f{member_id}".encode(), hashlib.sha256).digest()

    return sorted(member_ids, key=rank)


async def boost_reach() -> int:
    """How many members could get boost email at all (subscribed, consented, address not
    suppressed, campaign email on): what a reach report rounds. 0 when the admin turned
    federation-wide boosts off."""
    if not await get_policy("boost_accept_remote"):
        return 0
    # Petition ids start at 1: scope 0 leaves only the member rules, none of a petition's.
    where, params = eligibility(Scope(0, "national", ""), None)
    rows = await Person.raw(f"SELECT COUNT(*) AS n FROM person p WHERE {where}", *params)  # noqa: S608
    return int(rows[0]["n"])


async def _existing(code: str) -> HostedSample | None:
    row = await Mailing.select(Mailing.id, Mailing.recipients).where(Mailing.source_code == code).first()
    return HostedSample(row["id"], int(row["recipients"])) if row else None


async def mail_hosted_sample(
    petition_id: int,
    request_key: str,
    *,
    target_count: int,
    k_min: int,
    now: datetime | None = None,
) -> HostedSample:
    """Mail up to `target_count` eligible members about this instance's petition (a local
    copy, or its own) for a remote boost; idempotent on `request_key`. Refused (nothing sent)
    when the admin turned federation-wide boosts off, the petition is not open here, or
    fewer than `k_min` members are eligible."""
    now = now or datetime.now(UTC)
    code = hosted_source_code(request_key)
    existing = await _existing(code)
    if existing is not None:
        return existing
    if not await get_policy("boost_accept_remote"):
        return HostedSample(None, 0, OPTED_OUT)
    petition = await Petition.select(Petition.status).where(Petition.id == petition_id).first()
    if petition is None or petition["status"] != "published":
        return HostedSample(None, 0, "the petition is not open for signatures here")
    scope = await petition_scope(petition_id)
    where, params = eligibility(scope, await current_caps(now))
    eligible = [int(r["id"]) for r in await Person.raw(f"SELECT p.id FROM person p WHERE {where}", *params)]  # noqa: S608
    chosen = rank_members(request_key, eligible)[: max(target_count, 0)]
    if len(chosen) < k_min:
        return HostedSample(None, 0, f"fewer eligible members than k_min ({k_min})")
    mailing_id = await _hosted_mailing(petition_id, scope, code)
    if mailing_id is None:  # another run made it first
        return await _existing(code) or HostedSample(None, 0, "the sample is being mailed")
    condition, ids = id_list(chosen)
    async with transaction():
        inserted = await Delivery.raw(
            "INSERT INTO delivery (mailing, person, variant, status, attempts, available_at, "  # noqa: S608
            "lease_until, lease_token, error, created_at, sent_at) "
            f"SELECT {{}}, p.id, '', 'queued', 0, 0, 0, '', '', {{}}, NULL FROM person p WHERE {condition} "
            "ON CONFLICT (mailing, person) DO NOTHING RETURNING id",
            mailing_id,
            now,
            ids,
        )
        await Mailing.raw(
            "UPDATE mailing SET status = 'sending', started_at = COALESCE(started_at, {}), "
            "recipients = recipients + {}, updated_at = {} WHERE id = {} AND status = 'draft'",
            now,
            len(inserted),
            now,
            mailing_id,
        )
        await wake(mailing_id, "hosted-boost")
    return HostedSample(mailing_id, len(inserted))


async def _hosted_mailing(petition_id: int, scope: Scope, code: str) -> int | None:
    """The request's mailing (kind "boost", from this instance, linking to its own page for
    the petition); None if one with this source code appeared meanwhile."""
    mailing_id = await create_boost_mailing(
        petition_id,
        _audience_spec(scope),
        "Members across the federation are signing this petition, and it is winning people over:",
    )
    if await Mailing.exists().where(Mailing.source_code == code):
        await Mailing.delete().where(Mailing.id == mailing_id)
        return None
    await Mailing.update({Mailing.source_code: code}).where(Mailing.id == mailing_id)
    return mailing_id


async def hosted_results(mailing_id: int) -> HostedResults:
    """The sample's cumulative counts so far (sent deliveries, counted signatures through its
    source code, distinct members who unsubscribed from it)."""
    row: dict[str, Any] | None = (
        await Mailing.select(Mailing.petition, Mailing.source_code).where(Mailing.id == mailing_id).first()
    )
    if row is None:
        return HostedResults(0, 0, 0)
    sent = await Delivery.count().where((Delivery.mailing == mailing_id) & (Delivery.status == "sent"))
    signed = await Delivery.raw(
        "SELECT COUNT(*) AS n FROM signature WHERE petition = {} AND source = {} AND status = 'counted'",
        row["petition"],
        row["source_code"],
    )
    unsubscribed = await Delivery.raw(
        "SELECT COUNT(DISTINCT person) AS n FROM mail_event WHERE mailing = {} AND kind = 'unsubscribe'",
        mailing_id,
    )
    return HostedResults(int(sent), int(signed[0]["n"]), int(unsubscribed[0]["n"]))
