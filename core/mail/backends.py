"""Choosing a mail backend: SMTP when GROUNDSWELL_SMTP_URL is set, else files in the data dir.

Backends are synchronous (smtplib, file writes); the outbox handler runs them in a thread.
"""

from __future__ import annotations

import threading
from email.message import EmailMessage
from typing import Protocol

from core.mail.errors import MailNotSent, SmtpRejected, SmtpUnavailable
from core.mail.files import FileBackend
from core.mail.smtp import SmtpBackend, ehlo_name
from core.settings import Settings


class MailBackend(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver or store one message; raise MailNotSent (or OSError) if that failed."""
        ...


_backends: dict[str, MailBackend] = {}
_lock = threading.Lock()


def backend_for(settings: Settings) -> MailBackend:
    """One backend per process and configuration, so SMTP connections are reused."""
    key = settings.smtp_url or str(settings.mail_dir)
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            smtp = settings.smtp
            if smtp is not None:
                backend = SmtpBackend(smtp, local_hostname=ehlo_name(settings.public_host))
            else:
                backend = FileBackend(settings.mail_dir)
            _backends[key] = backend
    return backend


def close_backends() -> None:
    """Close pooled connections and forget every backend (shutdown, tests)."""
    with _lock:
        backends = list(_backends.values())
        _backends.clear()
    for backend in backends:
        if isinstance(backend, SmtpBackend):
            backend.close()


__all__ = [
    "FileBackend",
    "MailBackend",
    "MailNotSent",
    "SmtpBackend",
    "SmtpRejected",
    "SmtpUnavailable",
    "backend_for",
    "close_backends",
]
