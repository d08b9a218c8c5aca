"""Queueing mail: a row in the outbox per message, sent by a worker."""

from __future__ import annotations

import secrets

from core.mail.message import OutgoingMail
from core.outbox import enqueue

TOPIC = "mail.send"


async def queue_mail(mail: OutgoingMail, *, key: str | None = None) -> bool:
    """Queue one message. `key` makes it idempotent (queueing twice sends once)."""
    return await enqueue(TOPIC, key or f"mail:{secrets.token_hex(12)}", mail.to_payload())
