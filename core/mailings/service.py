"""Mailings as pages and the API use them: create and edit drafts, preview, send a test, send
now or schedule, halt and resume, list and read.

Every rule about what a mailing may be lives here (and in audience/composing, which this
calls), so the leader's page, the staff page and the OSDI API cannot disagree. Sending itself
is the outbox's job (core.mailings.sending); starting, halting and resuming live in
core.mailings.lifecycle and are re-exported here, so callers need this one module.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.errors import Conflict, NotFound, UserError
from core.mail import OutgoingMail, queue_mail
from core.mailings.ab_testing import LABELS
from core.mailings.audience import describe_audience, expand, parse_audience
from core.mailings.composing import check_template, composer_for, load_mailing, merge_person_for
from core.mailings.lifecycle import EDITABLE, cancel, halt, resume, schedule, send_now, start_scheduled
from core.mailings.tables import MAIL_TOPICS, MAILING_KINDS, Mailing, MailingVariant
from core.outbox import transaction
from core.people.emails import InvalidEmail, clean_email, email_key

MIN_TEST_FRACTION, MAX_TEST_FRACTION = 0.05, 0.5
MIN_TEST_WINDOW_S, MAX_TEST_WINDOW_S = 600, 7 * 24 * 3600
FROM_NAME_MAX = 100

_FIELDS = (
    "kind", "subject", "body", "audience", "petition_id", "group_id", "topic", "from_name",
    "reply_to", "variants", "test_fraction", "test_window_seconds", "max_unsubscribe_rate",
    "max_bounce_rate",
)  # fmt: skip


def _rate(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{what} is a number between 0 and 1, e.g. 0.02 for 2%.") from None
    if not (math.isfinite(number) and 0 < number <= 1):
        raise UserError(f"{what} is a number above 0 and at most 1, e.g. 0.02 for 2%.")
    return number


async def _validated(data: dict[str, Any]) -> dict[str, Any]:
    """The mailing's columns (plus "variants"), or a UserError naming the first problem."""
    from core.groups.tables import Group
    from core.petitions.tables import Petition

    kind = data["kind"]
    if kind not in MAILING_KINDS:
        raise UserError(f"A mailing's kind is one of {', '.join(MAILING_KINDS)}.")
    topic = data["topic"]
    if topic not in MAIL_TOPICS:
        raise UserError(f"A mailing's topic is one of {', '.join(MAIL_TOPICS)}.")
    petition_id = data.get("petition_id")
    if petition_id is not None and not await Petition.exists().where(Petition.id == petition_id):
        raise NotFound("There is no such petition.")
    group_id = data.get("group_id")
    if group_id is not None and not await Group.exists().where(Group.id == group_id):
        raise NotFound("There is no such group.")
    audience_data = data.get("audience") or {}
    if kind == "signers":
        if petition_id is None:
            raise UserError("A mailing to signers needs its petition.")
        # A leader mails the signers of their petition, and nobody else.
        audience_data = {**audience_data, "petition": petition_id}
        for other in ("group", "tag", "region", "postal_prefix", "saved", "all"):
            audience_data.pop(other, None)
    audience = parse_audience(audience_data)
    await expand(audience)  # what it names must exist

    subject, body = str(data["subject"] or "").strip(), str(data["body"] or "")
    problems = check_template(subject, body, has_petition=petition_id is not None)
    variants = [" ".join(str(v).split()) for v in data.get("variants") or () if str(v).strip()]
    if len(variants) >= len(LABELS):
        raise UserError(f"Test at most {len(LABELS)} subject lines.")
    for index, variant in enumerate(variants, start=1):
        problems += [
            f"Subject {LABELS[index]}: {p}"
            for p in check_template(variant, body or "x", has_petition=petition_id is not None)
            if "body" not in p
        ]
    if problems:
        raise UserError(" ".join(problems))

    from_name = " ".join(str(data.get("from_name") or "").split())
    if len(from_name) > FROM_NAME_MAX:
        raise UserError(f"Keep the sender's name under {FROM_NAME_MAX} characters.")
    reply_to = str(data.get("reply_to") or "").strip()
    if reply_to:
        try:
            reply_to = clean_email(reply_to)
        except InvalidEmail as exc:
            raise UserError(f"Reply-to: {exc}") from None

    test_fraction = float(data.get("test_fraction") or 0.0)
    if variants:
        if not (MIN_TEST_FRACTION <= test_fraction <= MAX_TEST_FRACTION):
            raise UserError(
                f"With several subject lines, test them on {MIN_TEST_FRACTION:.0%} to "
                f"{MAX_TEST_FRACTION:.0%} of the audience (test_fraction)."
            )
    elif test_fraction:
        raise UserError("A test needs at least two subject lines: add another one, or set no test share.")
    window = data.get("test_window_seconds")
    window = int(window if window is not None else 4 * 3600)
    if not MIN_TEST_WINDOW_S <= window <= MAX_TEST_WINDOW_S:
        raise UserError("Let a test run between 10 minutes and 7 days before the winner is chosen.")
    return {
        "kind": kind,
        "topic": topic,
        "petition": petition_id,
        "group": group_id,
        "subject": subject,
        "body": body,
        "audience": audience.to_spec(),
        "from_name": from_name,
        "reply_to": reply_to,
        "test_fraction": test_fraction,
        "test_window_seconds": window,
        "max_unsubscribe_rate": _rate(data.get("max_unsubscribe_rate", 0.02), "The unsubscribe limit"),
        "max_bounce_rate": _rate(data.get("max_bounce_rate", 0.05), "The bounce limit"),
        "variants": variants,
    }


async def _save_variants(mailing_id: int, subject: str, variants: Sequence[str]) -> None:
    await MailingVariant.delete().where(MailingVariant.mailing == mailing_id)
    if variants:
        await MailingVariant.insert(
            *[
                MailingVariant(mailing=mailing_id, label=label, subject=text)
                for label, text in zip(LABELS, [subject, *variants], strict=False)
            ]
        )


def _columns(values: dict[str, Any]) -> dict[Any, Any]:
    return {getattr(Mailing, name): value for name, value in values.items() if name != "variants"}


async def create_mailing(
    *,
    kind: str,
    author_login_id: int | None,
    subject: str,
    body: str,
    audience: dict[str, Any],
    petition_id: int | None = None,
    group_id: int | None = None,
    topic: str = "campaigns",
    from_name: str = "",
    reply_to: str = "",
    variants: Sequence[str] = (),
    test_fraction: float = 0.0,
    test_window_seconds: int = 4 * 3600,
    max_unsubscribe_rate: float = 0.02,
    max_bounce_rate: float = 0.05,
) -> int:
    """A draft mailing; its id. With `variants` (more subject lines), an A/B test: subject is
    variant A, the others B, C, …"""
    values = await _validated(
        {
            "kind": kind,
            "subject": subject,
            "body": body,
            "audience": audience,
            "petition_id": petition_id,
            "group_id": group_id,
            "topic": topic,
            "from_name": from_name,
            "reply_to": reply_to,
            "variants": list(variants),
            "test_fraction": test_fraction,
            "test_window_seconds": test_window_seconds,
            "max_unsubscribe_rate": max_unsubscribe_rate,
            "max_bounce_rate": max_bounce_rate,
        }
    )
    async with transaction():
        row = Mailing(author=author_login_id, source_code=f"new-{secrets.token_hex(8)}", status="draft")
        for column, value in _columns(values).items():
            setattr(row, column._meta.name, value)
        inserted = await Mailing.insert(row).returning(Mailing.id)
        mailing_id = inserted[0]["id"]
        # The source code signatures carry: short, readable in the dashboard, unique.
        await Mailing.update({Mailing.source_code: f"mail-{mailing_id}"}).where(Mailing.id == mailing_id)
        await _save_variants(mailing_id, values["subject"], values["variants"])
    return mailing_id


async def update_mailing(mailing_id: int, **changes: Any) -> None:
    """Change a mailing that has not started (draft or scheduled); Conflict otherwise."""
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise UserError(f"These cannot be changed: {', '.join(sorted(unknown))}.")
    mailing = await get_mailing(mailing_id)
    if mailing["status"] not in EDITABLE:
        raise Conflict("This mailing has started; it can no longer be edited.")
    current = {
        "kind": mailing["kind"],
        "subject": mailing["subject"],
        "body": mailing["body"],
        "audience": mailing["audience"],
        "petition_id": mailing["petition"],
        "group_id": mailing["group"],
        "topic": mailing["topic"],
        "from_name": mailing["from_name"],
        "reply_to": mailing["reply_to"],
        "variants": [v["subject"] for v in mailing["variants"][1:]],
        "test_fraction": mailing["test_fraction"],
        "test_window_seconds": mailing["test_window_seconds"],
        "max_unsubscribe_rate": mailing["max_unsubscribe_rate"],
        "max_bounce_rate": mailing["max_bounce_rate"],
    }
    values = await _validated({**current, **changes})
    async with transaction():
        updated = (
            await Mailing.update({**_columns(values), Mailing.updated_at: datetime.now(UTC)})
            .where((Mailing.id == mailing_id) & Mailing.status.is_in(list(EDITABLE)))
            .returning(Mailing.id)
        )
        if not updated:
            raise Conflict("This mailing has started; it can no longer be edited.")
        await _save_variants(mailing_id, values["subject"], values["variants"])


async def delete_mailing(mailing_id: int) -> None:
    """Delete a draft. A mailing that was scheduled or sent is kept, because its deliveries,
    report and suppression history refer to it; cancel it instead."""
    mailing = await load_mailing(mailing_id)
    if mailing["status"] != "draft":
        raise Conflict(
            f"Only a draft can be deleted; this message is {mailing['status']}. "
            "Cancel it instead (DELETE …/schedule, or stop it with DELETE …/send)."
        )
    async with transaction():
        await MailingVariant.delete().where(MailingVariant.mailing == mailing_id)
        deleted = (
            await Mailing.delete()
            .where((Mailing.id == mailing_id) & (Mailing.status == "draft"))
            .returning(Mailing.id)
        )
        if not deleted:
            raise Conflict("The message changed meanwhile; reload and try again.")


async def get_mailing(mailing_id: int) -> dict[str, Any]:
    """The mailing's columns, its variants ([{label, subject}], A first; empty without a test)
    and its audience in words."""
    mailing = await load_mailing(mailing_id)
    mailing["audience"] = parse_audience(mailing["audience"]).to_spec()
    mailing["variants"] = (
        await MailingVariant.select(MailingVariant.label, MailingVariant.subject)
        .where(MailingVariant.mailing == mailing_id)
        .order_by(MailingVariant.label)
    )
    mailing["audience_description"] = await describe_audience(parse_audience(mailing["audience"]))
    return mailing


async def list_mailings(
    *,
    kind: str | None = None,
    petition_id: int | None = None,
    author_login_id: int | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> dict[str, Any]:
    """Newest first: {"items": [...], "total": n, "page": p, "per_page": k, "pages": m}."""
    page, per_page = max(1, int(page)), min(100, max(1, int(per_page)))
    condition = Mailing.id > 0
    if kind is not None:
        condition &= Mailing.kind == kind
    if petition_id is not None:
        condition &= Mailing.petition == petition_id
    if author_login_id is not None:
        condition &= Mailing.author == author_login_id
    if status is not None:
        condition &= Mailing.status == status
    total = await Mailing.count().where(condition)
    items = await (
        Mailing.select(
            Mailing.id,
            Mailing.kind,
            Mailing.topic,
            Mailing.subject,
            Mailing.status,
            Mailing.petition,
            Mailing.group,
            Mailing.author,
            Mailing.recipients,
            Mailing.source_code,
            Mailing.winner,
            Mailing.created_at,
            Mailing.scheduled_for,
            Mailing.started_at,
            Mailing.finished_at,
        )
        .where(condition)
        .order_by(Mailing.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    pages = -(-total // per_page)
    return {"items": items, "total": total, "page": page, "per_page": per_page, "pages": pages}


async def send_test(
    mailing_id: int, to_email: str, person_id: int | None = None, *, sample: bool = False
) -> None:
    """Send the email to `to_email` (the author), marked as a test, with the merge fields of
    `person_id` (who must be in the audience) or of the audience's first member. Its footer
    links act for the test's recipient if they are a member, else for nobody. Transactional
    mail: it does not count toward anyone's frequency cap."""
    from core.people.tables import Person

    try:
        address = clean_email(to_email)
    except InvalidEmail as exc:
        raise UserError(str(exc)) from None
    mailing = await load_mailing(mailing_id)
    composer = await composer_for(mailing)
    person = await merge_person_for(mailing, person_id, sample=sample)
    own = await Person.select(Person.id).where(Person.email_key == email_key(address)).first()
    rendered = composer.render(person, links_for=own["id"] if own else 0)
    await queue_mail(
        OutgoingMail(
            to=address,
            subject=f"[Test] {rendered.subject}",
            text=rendered.text,
            html=rendered.html,
            headers=rendered.headers,
        ),
        key=f"mailing-test:{mailing_id}:{secrets.token_hex(8)}",
    )


__all__ = [
    "cancel",
    "create_mailing",
    "get_mailing",
    "halt",
    "list_mailings",
    "resume",
    "schedule",
    "send_now",
    "send_test",
    "start_scheduled",
    "update_mailing",
]
