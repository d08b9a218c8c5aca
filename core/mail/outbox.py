"""The outbox handler that delivers queued mail."""

from __future__ import annotations

import asyncio

from core.mail.backends import SmtpRejected, backend_for
from core.mail.message import OutgoingMail, build_message
from core.mail.queue import TOPIC
from core.outbox import OutboxWork, PermanentFailure, RetryLater, handler
from core.settings import current_settings


@handler(TOPIC, batch_size=50, lease_seconds=120, max_attempts=8, backoff_base=30)
async def send_queued_mail(work: OutboxWork) -> None:
    settings = current_settings()
    mail = OutgoingMail.from_payload(work.payload)
    message = build_message(mail, sender=settings.mail_from, key=work.key, domain=settings.public_host)
    backend = backend_for(settings)
    try:
        await asyncio.to_thread(backend.send, message)
    except SmtpRejected as exc:
        if exc.permanent:
            raise PermanentFailure(f"the mail server refused it: {exc}") from None
        raise RetryLater(f"the mail server deferred it: {exc}") from None
    except OSError as exc:
        raise RetryLater(f"cannot reach the mail server: {exc}") from None
