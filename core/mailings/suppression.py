"""Who must not be mailed, and the one place a member's subscription status changes.

Unsubscribes are the member's choice (Person.subscription); hard bounces and complaints are
also kept by normalized address in SuppressedAddress, so they hold for addresses we do not
know yet and survive a member record being deleted and recreated. Every status change goes
through `_change_subscription`, so anything that must follow one (a plugin hook, an audit
line) is added there once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import UserError
from core.mail.message import message_id_for
from core.mailings.tables import Delivery, MailEvent, Mailing, SuppressedAddress
from core.people.emails import InvalidEmail, email_key
from core.people.tables import Person
from core.plugins.events import emit
from core.settings import current_settings

log = logging.getLogger("groundswell.mail")

SUPPRESSION_REASONS = ("bounce", "complaint", "unsubscribe")
# Three soft bounces in thirty days: the mailbox is full for good, or the domain is gone.
SOFT_BOUNCES_AS_HARD = 3
SOFT_BOUNCE_WINDOW = timedelta(days=30)
# How far back a bounce's Message-ID is matched against the person's deliveries.
ATTRIBUTION_DELIVERIES = 500
DETAIL_MAX = 2000
_CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _key(email: str) -> str:
    try:
        return email_key(email)
    except InvalidEmail as exc:
        raise UserError(str(exc)) from None


async def _change_subscription(person_id: int, new: str, *, only_from: tuple[str, ...], via: str) -> bool:
    """Set a member's subscription status if it is currently one of `only_from`; True if it
    changed. The conditional update makes concurrent replays (a one-click POST retried by a
    mail provider) change it, and so record it, exactly once."""
    now = _now()
    changed = (
        await Person.update({Person.subscription: new, Person.updated_at: now})
        .where((Person.id == person_id) & Person.subscription.is_in(list(only_from)))
        .returning(Person.id)
    )
    if changed:
        log.debug("person %s subscription -> %s (via %s)", person_id, new, via)
        if new == "unsubscribed":  # plugins hear of it (core.plugin_api.EVENTS)
            await emit(
                "person.unsubscribed", f"{person_id}:{now.timestamp()}", {"person_id": person_id, "via": via}
            )
    return bool(changed)


async def _existing_mailing(mailing_id: int | None) -> int | None:
    if mailing_id is None:
        return None
    return mailing_id if await Mailing.exists().where(Mailing.id == mailing_id) else None


async def _record_event(
    kind: str,
    *,
    person_id: int | None,
    mailing_id: int | None = None,
    delivery_id: int | None = None,
    detail: str = "",
) -> bool:
    """One MailEvent, unless the same thing was already recorded: per delivery when we know
    it, else per person and mailing (unsubscribes), else the same detail within a day (the
    same bounce file read twice)."""
    if person_id is None and delivery_id is None:
        return False
    query = MailEvent.exists().where(MailEvent.kind == kind)
    if delivery_id is not None:
        query = query.where(MailEvent.delivery == delivery_id)
    elif mailing_id is not None:
        query = query.where((MailEvent.person == person_id) & (MailEvent.mailing == mailing_id))
    else:
        query = query.where(
            (MailEvent.person == person_id)
            & (MailEvent.detail == detail[:DETAIL_MAX])
            & (MailEvent.created_at > _now() - timedelta(days=1))
        )
    if await query:
        return False
    await MailEvent.insert(
        MailEvent(
            kind=kind,
            person=person_id,
            mailing=mailing_id,
            delivery=delivery_id,
            detail=detail[:DETAIL_MAX],
        )
    )
    return True


async def _suppress(key: str, reason: str, detail: str) -> None:
    """Never mail `key` again. A complaint outranks an earlier bounce or unsubscribe."""
    await SuppressedAddress.insert(
        SuppressedAddress(email_key=key, reason=reason, detail=detail[:DETAIL_MAX])
    ).on_conflict(target=SuppressedAddress.email_key, action="DO NOTHING")
    if reason == "complaint":
        await SuppressedAddress.update(
            {SuppressedAddress.reason: reason, SuppressedAddress.detail: detail[:DETAIL_MAX]}
        ).where((SuppressedAddress.email_key == key) & (SuppressedAddress.reason != reason))


async def _delivery_of(person_id: int, mailing_id: int | None) -> int | None:
    if mailing_id is None:
        return None
    row = (
        await Delivery.select(Delivery.id)
        .where((Delivery.person == person_id) & (Delivery.mailing == mailing_id))
        .first()
    )
    return row["id"] if row else None


# -- the member's own choices ----------------------------------------------------------------------


async def unsubscribe(person_id: int, *, mailing_id: int | None = None, via: str) -> bool:
    """Unsubscribe a member from all campaign mail; True if this changed anything. Replays
    (a link clicked twice, a provider retrying its one-click POST) change nothing and record
    nothing. `via` says how ("one-click", "page", "mailto", "webhook", "preferences")."""
    changed = await _change_subscription(person_id, "unsubscribed", only_from=("subscribed",), via=via)
    if changed:
        mailing_id = await _existing_mailing(mailing_id)
        await _record_event(
            "unsubscribe",
            person_id=person_id,
            mailing_id=mailing_id,
            delivery_id=await _delivery_of(person_id, mailing_id),
            detail=via,
        )
    return changed


async def unsubscribe_email(email: str, *, via: str) -> bool:
    """Unsubscribe whoever has this address; an address we do not know yet is suppressed, so
    a later import or signature does not start mailing someone who asked us not to."""
    key = _key(email)
    row = await Person.select(Person.id).where(Person.email_key == key).first()
    if row is None:
        await _suppress(key, "unsubscribe", f"unsubscribed via {via} before we knew the address")
        return True
    return await unsubscribe(row["id"], via=via)


async def resubscribe(person_id: int, *, via: str = "preferences") -> bool:
    """The member asked, through a signed link or while signed in, to get mail again: this
    is explicit consent, so it also lifts a bounce, complaint or unsubscribe suppression of
    their address."""
    row = await Person.select(Person.email_key).where(Person.id == person_id).first()
    if row is None:
        return False
    changed = await _change_subscription(
        person_id, "subscribed", only_from=("unsubscribed", "bounced", "complained"), via=via
    )
    lifted = (
        await SuppressedAddress.delete()
        .where(SuppressedAddress.email_key == row["email_key"])
        .returning(SuppressedAddress.id)
    )
    return changed or bool(lifted)


# -- what mail servers tell us ---------------------------------------------------------------------


def normalize_message_id(value: str) -> str:
    text = value.strip().strip("<>").strip().lower()
    return f"<{text}>" if text else ""


async def _attributed_delivery(
    person_id: int, *, message_id: str | None, delivery_id: int | None
) -> dict[str, Any] | None:
    """The delivery a bounce or complaint is about, only ever one of this person's: a claimed
    delivery id or Message-ID cannot move a bounce onto somebody else."""
    if delivery_id is not None:
        row = (
            await Delivery.select(Delivery.id, Delivery.mailing)
            .where((Delivery.id == delivery_id) & (Delivery.person == person_id))
            .first()
        )
        if row is not None:
            return row
    wanted = normalize_message_id(message_id or "")
    if not wanted:
        return None
    host = current_settings().public_host
    rows = (
        await Delivery.select(Delivery.id, Delivery.mailing)
        .where(Delivery.person == person_id)
        .order_by(Delivery.id, ascending=False)
        .limit(ATTRIBUTION_DELIVERIES)
    )
    for row in rows:
        if message_id_for(f"delivery:{row['id']}", host).lower() == wanted:
            return row
    return None


async def email_of_delivery(delivery_id: int) -> str | None:
    """The address a delivery went to: for complaints whose reporter hid the recipient."""
    row = (
        await Delivery.select(Delivery.person.email).where(Delivery.id == delivery_id).first()  # type: ignore[attr-defined]
    )
    return row["person.email"] if row else None


async def email_of_person(person_id: int) -> str | None:
    row = await Person.select(Person.email).where(Person.id == person_id).first()
    return row["email"] if row else None


async def record_bounce(
    email: str,
    *,
    hard: bool,
    detail: str,
    message_id: str | None = None,
    delivery_id: int | None = None,
) -> str:
    """Record a bounce; returns the kind recorded ("bounce" or "soft_bounce"). A hard bounce
    suppresses the address for good (even one we do not know); soft bounces only count,
    until SOFT_BOUNCES_AS_HARD of them within SOFT_BOUNCE_WINDOW make it hard."""
    key = _key(email)
    person = await Person.select(Person.id).where(Person.email_key == key).first()
    person_id = person["id"] if person else None
    delivery = None
    if person_id is not None:
        delivery = await _attributed_delivery(person_id, message_id=message_id, delivery_id=delivery_id)
    if not hard:
        if person_id is None:
            return "soft_bounce"  # nobody we mail: nothing to count against
        await _record_event(
            "soft_bounce",
            person_id=person_id,
            mailing_id=delivery["mailing"] if delivery else None,
            delivery_id=delivery["id"] if delivery else None,
            detail=detail,
        )
        recent = await MailEvent.count().where(
            (MailEvent.person == person_id)
            & (MailEvent.kind == "soft_bounce")
            & (MailEvent.created_at > _now() - SOFT_BOUNCE_WINDOW)
        )
        if recent < SOFT_BOUNCES_AS_HARD:
            return "soft_bounce"
        detail = f"{recent} soft bounces within {SOFT_BOUNCE_WINDOW.days} days; the last: {detail}"
    await _suppress(key, "bounce", detail)
    if person_id is None:
        return "bounce"
    await _change_subscription(person_id, "bounced", only_from=("subscribed",), via="bounce")
    if delivery is not None:
        await Delivery.update({Delivery.status: "bounced", Delivery.error: detail[:DETAIL_MAX]}).where(
            Delivery.id == delivery["id"]
        )
    await _record_event(
        "bounce",
        person_id=person_id,
        mailing_id=delivery["mailing"] if delivery else None,
        delivery_id=delivery["id"] if delivery else None,
        detail=detail,
    )
    return "bounce"


async def record_complaint(
    email: str, *, detail: str, message_id: str | None = None, delivery_id: int | None = None
) -> None:
    """Someone marked our mail as spam: never mail the address again, whatever it was."""
    key = _key(email)
    await _suppress(key, "complaint", detail)
    person = await Person.select(Person.id).where(Person.email_key == key).first()
    if person is None:
        return
    await _change_subscription(
        person["id"], "complained", only_from=("subscribed", "unsubscribed", "bounced"), via="complaint"
    )
    delivery = await _attributed_delivery(person["id"], message_id=message_id, delivery_id=delivery_id)
    await _record_event(
        "complaint",
        person_id=person["id"],
        mailing_id=delivery["mailing"] if delivery else None,
        delivery_id=delivery["id"] if delivery else None,
        detail=detail,
    )


# -- for the sender ------------------------------------------------------------------------------


async def suppressed_email_keys(email_keys: Iterable[str]) -> set[str]:
    """Which of these normalized addresses must not get campaign mail: suppressed addresses
    and members who are not subscribed. Checked again at send time, so a bounce or an
    unsubscribe that arrives mid-mailing stops the rest."""
    keys = list(dict.fromkeys(email_keys))
    found: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = await SuppressedAddress.select(SuppressedAddress.email_key).where(
            SuppressedAddress.email_key.is_in(chunk)
        )
        found.update(row["email_key"] for row in rows)
        rows = await Person.select(Person.email_key).where(
            Person.email_key.is_in(chunk) & (Person.subscription != "subscribed")
        )
        found.update(row["email_key"] for row in rows)
    return found


async def suppression_of(email: str) -> str | None:
    """Why this address is suppressed ("bounce", "complaint", "unsubscribe"), or None."""
    row = (
        await SuppressedAddress.select(SuppressedAddress.reason)
        .where(SuppressedAddress.email_key == _key(email))
        .first()
    )
    return row["reason"] if row else None
