"""The moderation queue: petitions waiting for review (pre-moderation) and members' abuse
reports (either mode). Approving publishes; rejecting — a pending petition, or a published
one after an upheld report — emails the creator the reason. The rules, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from piccolo.engine.postgres import PostgresEngine

from core.db import database
from core.errors import Conflict, NotFound, UserError
from core.mail import OutgoingMail, queue_mail
from core.moderation.tables import AbuseReport
from core.outbox import transaction
from core.people.tables import Person
from core.petitions import service
from core.petitions.tables import Petition
from core.settings import current_settings

REASON_MAX = 2000
QUEUE_PAGE = 100
# Addresses that bounced or complained are never mailed again.
UNMAILABLE = ("bounced", "complained")


def clean_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise UserError("Say why the petition is rejected; the creator will read it.")
    if len(reason) > REASON_MAX:
        raise UserError(f"Keep the reason under {REASON_MAX:,} characters; the creator will read it.")
    return reason


_LOCKS = {
    Petition: "SELECT id FROM petition WHERE id = {} FOR UPDATE",
    AbuseReport: "SELECT id FROM abuse_report WHERE id = {} FOR UPDATE",
}


async def _lock(table: type[Petition] | type[AbuseReport], row_id: int) -> None:
    """Serialise decisions on one row. SQLite write transactions already run one at a time
    (BEGIN IMMEDIATE); PostgreSQL needs the row lock."""
    if isinstance(database(), PostgresEngine):
        await table.raw(_LOCKS[table], row_id)


async def pending_petitions(*, limit: int = QUEUE_PAGE) -> list[dict]:
    """Petitions waiting for review, oldest first, with who started them."""
    return (
        await Petition.select(
            Petition.id,
            Petition.slug,
            Petition.title,
            Petition.summary,
            Petition.body_html,
            Petition.updated_at,
            Petition.creator.email,
            Petition.creator.given_name,
            Petition.creator.family_name,
        )
        .where(Petition.status == "pending")
        .order_by(Petition.updated_at)
        .limit(limit)
    )


async def pending_count() -> int:
    return await Petition.count().where(Petition.status == "pending")


async def _mail_creator(petition: Petition, subject: str, text: str, key: str) -> None:
    if petition.creator is None:
        return
    person = await Person.objects().where(Person.id == petition.creator).first()
    if person is None or not person.email or person.subscription in UNMAILABLE:
        return
    name = person.given_name or "there"
    await queue_mail(OutgoingMail(to=person.email, subject=subject, text=f"Hello {name},\n\n{text}"), key=key)


async def approve(petition_id: int) -> Petition:
    """Publish a petition waiting for review and tell its creator."""
    async with transaction():
        await _lock(Petition, petition_id)
        petition = await service.approve_petition(petition_id)
        url = f"{current_settings().public_url}/p/{petition.slug}"
        await _mail_creator(
            petition,
            f"Your petition is published: {petition.title}",
            f"Your petition “{petition.title}” has been reviewed and is now published:\n\n{url}\n\n"
            "Share the link to gather signatures.",
            key=f"moderation:approved:{petition.id}:{petition.version}",
        )
    return petition


async def reject(petition_id: int, reason: str) -> Petition:
    """Reject a petition waiting for review, or take down a published one, and email the
    creator the reason."""
    reason = clean_reason(reason)
    async with transaction():
        await _lock(Petition, petition_id)
        before = await service.get_petition(petition_id)
        petition = await service.reject_petition(petition_id, reason)
        if before.status == "pending":
            subject = f"Your petition was not published: {petition.title}"
            opening = f"Your petition “{petition.title}” was reviewed and has not been published."
        else:
            subject = f"Your petition has been taken down: {petition.title}"
            opening = f"Your petition “{petition.title}” has been taken down after a review."
        await _mail_creator(
            petition,
            subject,
            f"{opening}\n\nThe reason:\n\n{reason}\n\n"
            "You can change the petition and submit it again, or reply to this email to ask "
            "for another look.",
            key=f"moderation:rejected:{petition.id}:{petition.version}",
        )
    return petition


async def open_reports(*, limit: int = QUEUE_PAGE) -> list[dict]:
    """Abuse reports waiting for staff, oldest first."""
    return (
        await AbuseReport.select(
            AbuseReport.id,
            AbuseReport.reason,
            AbuseReport.created_at,
            AbuseReport.petition.id,
            AbuseReport.petition.slug,
            AbuseReport.petition.title,
            AbuseReport.petition.status,
            AbuseReport.reporter.email,
        )
        .where(AbuseReport.status == "open")
        .order_by(AbuseReport.id)
        .limit(limit)
    )


async def open_report_count() -> int:
    return await AbuseReport.count().where(AbuseReport.status == "open")


async def _open_report(report_id: int) -> AbuseReport:
    report = await AbuseReport.objects().where(AbuseReport.id == report_id).first()
    if report is None:
        raise NotFound("There is no such report.")
    if report.status != "open":
        raise Conflict(f"This report was already {report.status}.")
    return report


async def dismiss_report(report_id: int, *, login_id: int | None) -> None:
    """Close a report without acting on the petition."""
    async with transaction():
        await _lock(AbuseReport, report_id)
        await _open_report(report_id)
        await AbuseReport.update(
            {
                AbuseReport.status: "dismissed",
                AbuseReport.resolved_by: login_id,
                AbuseReport.resolved_at: datetime.now(UTC),
            }
        ).where(AbuseReport.id == report_id)


async def uphold_report(report_id: int, reason: str, *, login_id: int | None) -> bool:
    """Agree with a report. A published (or pending) petition is rejected and its creator is
    emailed `reason`; the petition's other open reports are upheld with it. Returns whether the
    petition was taken down (a closed petition stays as it is)."""
    reason = clean_reason(reason)
    report = await _open_report(report_id)
    petition = await service.get_petition(report.petition)
    taken_down = petition.status in ("pending", "published")
    async with transaction():
        await _lock(AbuseReport, report_id)
        await _open_report(report_id)
        if taken_down:
            await reject(petition.id, reason)  # nested: one transaction
        resolve = {
            AbuseReport.status: "upheld",
            AbuseReport.resolved_by: login_id,
            AbuseReport.resolved_at: datetime.now(UTC),
        }
        if taken_down:
            same = (AbuseReport.petition == petition.id) & (AbuseReport.status == "open")
            await AbuseReport.update(resolve).where(same | (AbuseReport.id == report_id))
        else:
            await AbuseReport.update(resolve).where(AbuseReport.id == report_id)
    return taken_down
