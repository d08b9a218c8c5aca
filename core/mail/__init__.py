"""Sending email: messages are queued in the outbox and delivered by a backend (SMTP, or
files in the data dir on the embedded default)."""

from core.mail.backends import FileBackend, MailBackend, SmtpBackend, backend_for, close_backends
from core.mail.errors import MailNotSent, SmtpRejected, SmtpUnavailable
from core.mail.message import OutgoingMail, build_message
from core.mail.queue import queue_mail

__all__ = [
    "FileBackend",
    "MailBackend",
    "MailNotSent",
    "OutgoingMail",
    "SmtpBackend",
    "SmtpRejected",
    "SmtpUnavailable",
    "backend_for",
    "build_message",
    "close_backends",
    "queue_mail",
]
