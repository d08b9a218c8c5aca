"""Acting on bounces, complaints and mailto unsubscribes, whichever way they arrive: files
read by `groundswell mail bounces` (see bounce_reports) or the JSON webhook (see webhook).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from core.mailings import links, suppression
from core.mailings.bounce_reports import Finding, check_readable, messages_in, read_message

log = logging.getLogger("groundswell.mail")


_FIELDS = {"hard": "hard", "soft": "soft", "complaint": "complaints", "unsubscribe": "unsubscribes"}


@dataclass
class BounceSummary:
    messages: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    unsubscribes: int = 0
    not_understood: int = 0

    def count(self, kind: str) -> None:
        field = _FIELDS[kind]
        setattr(self, field, getattr(self, field) + 1)

    def line(self) -> str:
        def plural(n: int, word: str, many: str | None = None) -> str:
            return f"{n} {word if n == 1 else (many or word + 's')}"

        parts = [
            plural(self.hard, "hard bounce", "hard bounces"),
            f"{self.soft} soft",
            plural(self.complaints, "complaint"),
            plural(self.unsubscribes, "unsubscribe"),
            f"{self.not_understood} not understood",
        ]
        return f"{plural(self.messages, 'message')}: {', '.join(parts)}"


async def _recipient(finding: Finding) -> str | None:
    """The address a finding is about: as reported, or from the original message's signed
    unsubscribe token, or (weakest) from its delivery header."""
    if finding.email:
        return finding.email
    if finding.token:
        read = links.read_unsubscribe_token(finding.token)
        if read is not None:
            return await suppression.email_of_person(read[0])
    if finding.delivery_id is not None:
        return await suppression.email_of_delivery(finding.delivery_id)
    return None


async def apply_finding(finding: Finding, *, via: str) -> bool:
    """Act on one finding; False if it could not be used (no address, a forged token)."""
    try:
        if finding.kind == "unsubscribe":
            if finding.token:
                read = links.read_unsubscribe_token(finding.token)
                if read is None:
                    return False
                await suppression.unsubscribe(read[0], mailing_id=read[1], via=via)
                return True
            if not finding.email:
                return False
            await suppression.unsubscribe_email(finding.email, via=via)
            return True
        email = await _recipient(finding)
        if email is None:
            return False
        if finding.kind == "complaint":
            await suppression.record_complaint(
                email, detail=finding.detail, message_id=finding.message_id, delivery_id=finding.delivery_id
            )
        else:
            await suppression.record_bounce(
                email,
                hard=finding.kind == "hard",
                detail=finding.detail,
                message_id=finding.message_id,
                delivery_id=finding.delivery_id,
            )
    except UserError as exc:  # an unusable address in a report
        log.debug("ignored a %s report: %s", finding.kind, exc.message)
        return False
    return True


async def process_files(paths: Iterable[Path]) -> BounceSummary:
    """Read every message in `paths` (mbox files, .eml files, directories of .eml files) and
    act on it. All paths are checked before anything is applied, so a typo in the second
    name does not leave the first file half-done."""
    paths = list(paths)
    for path in paths:
        check_readable(path)
    summary = BounceSummary()
    for path in paths:
        for message in messages_in(path):
            summary.messages += 1
            used = [f for f in read_message(message) if await apply_finding(f, via="mailto")]
            if not used:
                summary.not_understood += 1
            for finding in used:
                summary.count(finding.kind)
    return summary
