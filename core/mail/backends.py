"""Mail backends: SMTP for production, files in the data dir for the embedded default.

Backends are synchronous (smtplib); the outbox handler runs them in a thread.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Protocol

from core.settings import Settings, SmtpSettings


class MailBackend(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpRejected(Exception):
    """The server refused the message; `permanent` is True for 5xx answers."""

    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class SmtpBackend:
    """Sends over SMTP, reusing one connection per thread across messages."""

    def __init__(self, config: SmtpSettings) -> None:
        self.config = config
        self._local = threading.local()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        context = ssl.create_default_context()
        if c.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
        else:
            client = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            if c.starttls:
                client.starttls(context=context)
        if c.username:
            client.login(c.username, c.password or "")
        return client

    def _connection(self) -> smtplib.SMTP:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._connect()
            self._local.client = client
        return client

    def _drop(self) -> None:
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def send(self, message: EmailMessage) -> None:
        for attempt in (1, 2):
            client = self._connection()
            try:
                refused = client.send_message(message)
            except smtplib.SMTPServerDisconnected:
                self._drop()  # a reused connection went stale: reconnect once
                if attempt == 2:
                    raise
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                raise SmtpRejected(_reason(code, text), permanent=code >= 500) from None
            except smtplib.SMTPResponseException as exc:
                self._drop()
                raise SmtpRejected(
                    _reason(exc.smtp_code, exc.smtp_error), permanent=exc.smtp_code >= 500
                ) from None
            if refused:
                code, text = next(iter(refused.values()))
                raise SmtpRejected(_reason(code, text), permanent=code >= 500)
            return

    def close(self) -> None:
        self._drop()


def _reason(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


class FileBackend:
    """Writes each message to `<data dir>/mail/` as an .eml file, for instances without SMTP.
    The file name comes from the Message-ID, so a retried send overwrites, never duplicates."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        ident = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:24]
        final = self.directory / f"{ident}.eml"
        temporary = self.directory / f".{ident}.tmp"
        temporary.write_bytes(message.as_bytes(policy=policy.SMTP))
        os.replace(temporary, final)

    def list(self, limit: int = 50, offset: int = 0) -> list[Path]:
        if not self.directory.is_dir():
            return []
        files = sorted(self.directory.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)
        return files[offset : offset + limit]

    def count(self) -> int:
        return len(list(self.directory.glob("*.eml"))) if self.directory.is_dir() else 0

    def read(self, name: str) -> EmailMessage | None:
        if not name.endswith(".eml") or "/" in name or name.startswith("."):
            return None
        path = self.directory / name
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return BytesParser(policy=policy.default).parse(handle)  # type: ignore[return-value]


_backends: dict[str, MailBackend] = {}


def backend_for(settings: Settings) -> MailBackend:
    """One backend per process and configuration (so SMTP connections are reused)."""
    key = settings.smtp_url or str(settings.mail_dir)
    backend = _backends.get(key)
    if backend is None:
        smtp = settings.smtp
        backend = SmtpBackend(smtp) if smtp else FileBackend(settings.mail_dir)
        _backends[key] = backend
    return backend
