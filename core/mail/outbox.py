"""The outbox handler that delivers queued mail.

Failures are sorted here into the outbox's two kinds: a mail that can never be sent (it
cannot be built, or the server refused it for good) is marked dead with the reason; anything
else (a deferral, the server being away, a full disk) is retried with backoff. Either way the
reason is a sentence for the admin, not a traceback.
"""

from __future__ import annotations

import asyncio

from core.mail.backends import backend_for
from core.mail.errors import MailNotSent
from core.mail.message import OutgoingMail, build_message
from core.mail.queue import TOPIC
from core.outbox import OutboxWork, PermanentFailure, RetryLater, handler
from core.settings import current_settings


# Not transactional: an SMTP conversation must not hold a database write transaction open.
@handler(TOPIC, batch_size=50, lease_seconds=120, max_attempts=8, backoff_base=30, transactional=False)
async def send_queued_mail(work: OutboxWork) -> None:
    settings = current_settings()
    try:
        mail = OutgoingMail.from_payload(work.payload)
        message = build_message(mail, sender=settings.mail_from, key=work.key, domain=settings.public_host)
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentFailure(f"the queued mail cannot be turned into a message: {exc}") from None
    backend = backend_for(settings)
    try:
        await asyncio.to_thread(backend.send, message)
    except MailNotSent as exc:
        if exc.permanent:
            raise PermanentFailure(exc.reason) from None
        raise RetryLater(exc.reason) from None
    except OSError as exc:  # the file backend: a full disk, a read-only data dir
        raise RetryLater(f"cannot store the message in {settings.mail_dir}: {exc}") from None
