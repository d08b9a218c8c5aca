"""What a mailing did: per variant and in total, how many were sent, failed, bounced or
skipped, and what recipients did — unsubscribed, complained, clicked, signed.

Actions are signatures whose source is the mailing's source code (`mail-7`, or `mail-7-B` for
variant B): composing puts that code on every link to a petition page, and signing stores it.
Clicks and unsubscribes count people, not events: a member who clicks twice is one click.
Rates are per message that left (sent or later bounced).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.mailings.composing import load_mailing
from core.mailings.tables import Delivery, MailingVariant


@dataclass
class VariantReport:
    label: str  # "" for a mailing without an A/B test, and for the totals
    subject: str = ""
    recipients: int = 0
    waiting: int = 0
    queued: int = 0
    sent: int = 0  # left us: sent, including those that bounced later
    failed: int = 0
    bounced: int = 0
    skipped: int = 0
    unsubscribed: int = 0
    complaints: int = 0
    clicks: int = 0
    opens: int = 0
    actions: int = 0

    def _rate(self, count: int) -> float:
        return count / self.sent if self.sent else 0.0

    @property
    def unsubscribe_rate(self) -> float:
        return self._rate(self.unsubscribed)

    @property
    def complaint_rate(self) -> float:
        return self._rate(self.complaints)

    @property
    def bounce_rate(self) -> float:
        return self._rate(self.bounced)

    @property
    def click_rate(self) -> float:
        return self._rate(self.clicks)

    @property
    def action_rate(self) -> float:
        return self._rate(self.actions)

    def add(self, other: VariantReport) -> None:
        for name in (
            "recipients", "waiting", "queued", "sent", "failed", "bounced", "skipped",
            "unsubscribed", "complaints", "clicks", "opens", "actions",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class MailingReport:
    mailing_id: int
    kind: str
    status: str
    subject: str
    source_code: str
    recipients: int
    winner: str
    halted_reason: str
    started_at: datetime | None
    finished_at: datetime | None
    totals: VariantReport
    variants: list[VariantReport] = field(default_factory=list)
    # Why deliveries were skipped or failed, most common first: [(reason, count)].
    skip_reasons: list[tuple[str, int]] = field(default_factory=list)
    failure_reasons: list[tuple[str, int]] = field(default_factory=list)


async def variant_numbers(mailing: dict[str, Any]) -> dict[str, VariantReport]:
    """Per delivery variant ("" when there is no test), what happened."""
    mailing_id = mailing["id"]
    rows: dict[str, VariantReport] = {}

    def row(label: str | None) -> VariantReport:
        label = label or ""
        if label not in rows:
            rows[label] = VariantReport(label)
        return rows[label]

    for r in await Delivery.raw(
        "SELECT variant, status, COUNT(*) AS n FROM delivery WHERE mailing = {} GROUP BY variant, status",
        mailing_id,
    ):
        target, n, status = row(r["variant"]), int(r["n"]), r["status"]
        target.recipients += n
        if status in ("sent", "bounced"):
            target.sent += n
        elif status in ("queued", "sending"):
            target.queued += n
        elif status in ("waiting", "failed", "skipped"):
            setattr(target, status, getattr(target, status) + n)
    for r in await Delivery.raw(
        "SELECT d.variant, e.kind, COUNT(DISTINCT e.person) AS n FROM mail_event e "
        "JOIN delivery d ON d.mailing = e.mailing AND d.person = e.person "
        "WHERE e.mailing = {} AND e.kind IN ('unsubscribe', 'complaint', 'click', 'open') "
        "GROUP BY d.variant, e.kind",
        mailing_id,
    ):
        name = {"unsubscribe": "unsubscribed", "complaint": "complaints", "click": "clicks", "open": "opens"}
        target = row(r["variant"])
        setattr(target, name[r["kind"]], int(r["n"]))
    for r in await Delivery.raw(
        "SELECT d.variant, COUNT(*) AS n FROM delivery d WHERE d.mailing = {} AND (d.status = 'bounced' "
        "OR EXISTS (SELECT 1 FROM mail_event e WHERE e.mailing = d.mailing AND e.person = d.person "
        "AND e.kind = 'bounce')) GROUP BY d.variant",
        mailing_id,
    ):
        row(r["variant"]).bounced = int(r["n"])
    code = mailing["source_code"]
    for r in await Delivery.raw(
        "SELECT source, COUNT(*) AS n FROM signature WHERE (source = {} OR source LIKE {}) "
        "AND status = 'counted' GROUP BY source",
        code,
        f"{code}-%",
    ):
        label = r["source"][len(code) + 1 :] if r["source"] != code else ""
        if label == "" or label in rows:
            row(label).actions += int(r["n"])
    return rows


async def _reasons(mailing_id: int, status: str) -> list[tuple[str, int]]:
    rows = await Delivery.raw(
        "SELECT error, COUNT(*) AS n FROM delivery WHERE mailing = {} AND status = {} "
        "GROUP BY error ORDER BY COUNT(*) DESC LIMIT 10",
        mailing_id,
        status,
    )
    return [(r["error"] or "(no reason recorded)", int(r["n"])) for r in rows]


async def mailing_report(mailing_id: int) -> MailingReport:
    mailing = await load_mailing(mailing_id)
    numbers = await variant_numbers(mailing)
    subjects = {
        v["label"]: v["subject"]
        for v in await MailingVariant.select(MailingVariant.label, MailingVariant.subject).where(
            MailingVariant.mailing == mailing_id
        )
    }
    totals = VariantReport("", subject=mailing["subject"])
    variants = []
    for label in sorted(set(numbers) | set(subjects)):
        variant = numbers.get(label) or VariantReport(label)
        variant.subject = subjects.get(label, mailing["subject"])
        totals.add(variant)
        if label:
            variants.append(variant)
    return MailingReport(
        mailing_id=mailing_id,
        kind=mailing["kind"],
        status=mailing["status"],
        subject=mailing["subject"],
        source_code=mailing["source_code"],
        recipients=mailing["recipients"],
        winner=mailing["winner"],
        halted_reason=mailing["halted_reason"],
        started_at=mailing["started_at"],
        finished_at=mailing["finished_at"],
        totals=totals,
        variants=variants,
        skip_reasons=await _reasons(mailing_id, "skipped"),
        failure_reasons=await _reasons(mailing_id, "failed"),
    )
