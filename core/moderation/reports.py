"""Members (and visitors) reporting a petition that breaks the instance's rules. A report
needs a reason, is limited in length, and reports from one IP address are rate-limited."""

from __future__ import annotations

from core.errors import NotFound, TooManyRequests, UserError
from core.moderation import rate_limits
from core.moderation.screening import normalize_ip
from core.moderation.tables import AbuseReport
from core.petitions.tables import Petition

REASON_MIN = 10
REASON_MAX = 2000
# Petitions the public can see, and so report.
REPORTABLE = ("published", "closed", "delivered")


def clean_report_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < REASON_MIN:
        raise UserError(f"Say what is wrong with this petition, in at least {REASON_MIN} characters.")
    if len(reason) > REASON_MAX:
        raise UserError(f"Keep your report under {REASON_MAX:,} characters.")
    return reason


async def file_report(petition_id: int, reason: str, *, reporter_id: int | None, ip: str) -> int:
    """Record a report for staff; returns its id. Anonymous reports are welcome."""
    reason = clean_report_reason(reason)
    petition = await Petition.select(Petition.status).where(Petition.id == petition_id).first()
    if petition is None or petition["status"] not in REPORTABLE:
        raise NotFound("There is no public petition to report here.")
    ip = normalize_ip(ip)
    if ip:
        now = rate_limits.clock()
        [count] = await rate_limits.hit([rate_limits.Bucket(rate_limits.REPORTS_PER_IP, "all", ip)], at=now)
        if count.exceeded:
            minutes = max(1, round(count.retry_after(now) / 60))
            raise TooManyRequests(
                "Thank you, but we have received many reports from your internet connection "
                f"recently. Please try again in {minutes} minute{'s' if minutes != 1 else ''}."
            )
    rows = await AbuseReport.insert(
        AbuseReport(petition=petition_id, reporter=reporter_id, reason=reason)
    ).returning(AbuseReport.id)
    return rows[0]["id"]
