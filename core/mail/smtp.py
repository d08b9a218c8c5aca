"""Sending over SMTP with smtplib, reusing connections across messages.

The outbox handler calls `send` through `asyncio.to_thread`, so consecutive messages run on
whichever executor thread is free. Connections therefore live in a small pool owned by the
backend rather than in thread-locals: with thread-locals every executor thread would open
(and keep) its own connection, and a burst of mail would not reuse anything.

Every failure leaves as a `MailNotSent` with a reason an administrator can act on; 5xx
answers about the message are permanent, everything else (4xx, the server being down or
slow, TLS or login problems) is worth retrying.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from core.mail.errors import SmtpRejected, SmtpUnavailable
from core.settings import SmtpSettings

# Servers drop idle clients (Postfix after 300 s, some after 30-60 s); past this we open a
# fresh connection instead of discovering a dead one.
IDLE_LIMIT_S = 30.0
# Some providers refuse more messages per connection (often around 100); reconnect first.
MAX_MESSAGES_PER_CONNECTION = 100
# Idle connections kept beyond this are closed: one per concurrently sending worker is enough.
MAX_IDLE_CONNECTIONS = 4

# Answers that mean "authenticate first" or "your credentials are not good enough".
_AUTHENTICATION_CODES = frozenset({530, 534, 535, 538})


class _Stale(Exception):
    """The connection broke before the server judged this message; a fresh one may work.
    Carries the underlying error, to explain it if a fresh connection breaks too."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _Connection:
    client: smtplib.SMTP
    sent: int = 0
    last_used: float = field(default_factory=time.monotonic)

    @property
    def is_open(self) -> bool:
        # smtplib sets `sock` to None when it closes the connection itself (e.g. after a 421).
        return self.client.sock is not None

    def close(self) -> None:
        try:
            self.client.quit()
        except (smtplib.SMTPException, OSError):
            self.client.close()


def ehlo_name(public_host: str) -> str:
    """The name we greet the server with. smtplib's default (socket.getfqdn) can stall on DNS
    and says nothing useful; an IP address must be written as an address literal."""
    try:
        address = ipaddress.ip_address(public_host)
    except ValueError:
        return public_host
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


class SmtpBackend:
    """Sends over SMTP (plain, STARTTLS or implicit TLS, with optional AUTH), reusing
    connections across messages and threads."""

    def __init__(self, config: SmtpSettings, local_hostname: str | None = None) -> None:
        self.config = config
        self.local_hostname = local_hostname or "localhost"
        self.where = f"{config.host}:{config.port}"
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        """Deliver one message or raise MailNotSent. A reused connection that turns out to be
        dead is replaced once, transparently."""
        reused = self._checkout()
        if reused is not None:
            try:
                self._send_on(reused, message)
                return
            except _Stale:
                pass  # the server had dropped it; nothing was said about this message
        connection = self._connect()
        try:
            self._send_on(connection, message)
        except _Stale as exc:
            raise SmtpUnavailable(self._explain(exc.error)) from None

    def close(self) -> None:
        """Say goodbye on every idle connection (process shutdown, tests)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # -- the pool ---------------------------------------------------------------------------

    def _checkout(self) -> _Connection | None:
        expired: list[_Connection] = []
        found = None
        now = time.monotonic()
        with self._lock:
            while self._idle:
                connection = self._idle.pop()  # the most recently used is the likeliest alive
                if now - connection.last_used <= IDLE_LIMIT_S:
                    found = connection
                    break
                expired.append(connection)
        for connection in expired:
            connection.close()
        return found

    def _checkin(self, connection: _Connection) -> None:
        if not connection.is_open:
            return
        if connection.sent >= MAX_MESSAGES_PER_CONNECTION:
            connection.close()
            return
        connection.last_used = time.monotonic()
        with self._lock:
            if len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(connection)
                return
        connection.close()

    # -- one message ------------------------------------------------------------------------

    def _send_on(self, connection: _Connection, message: EmailMessage) -> None:
        try:
            refused = connection.client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self._checkin(connection)  # smtplib has reset the transaction; the link is fine
            raise self._refused(exc.recipients, partial=False) from None
        except smtplib.SMTPResponseException as exc:  # MAIL FROM or DATA refused
            if exc.smtp_code == 421:  # "closing the channel": about the connection, not the message
                connection.client.close()
                raise _Stale(exc) from None
            self._checkin(connection)  # kept only if smtplib left it open
            raise self._rejected(exc) from None
        except smtplib.SMTPNotSupportedError as exc:  # e.g. needs SMTPUTF8, server lacks it
            self._checkin(connection)
            raise SmtpRejected(
                f"the mail server at {self.where} cannot take this message: {exc}", permanent=True
            ) from None
        except OSError as exc:  # includes SMTPServerDisconnected: smtplib's errors are OSErrors
            connection.client.close()
            raise _Stale(exc) from None
        except (ValueError, UnicodeError) as exc:  # the message cannot be serialised as is
            self._checkin(connection)
            raise SmtpRejected(f"the message cannot be sent as built: {exc}", permanent=True) from None
        connection.sent += 1
        self._checkin(connection)
        if refused:
            # Delivered to the others; a retry would send them a duplicate, so stop here.
            raise self._refused(refused, partial=True)

    def _refused(self, recipients: dict[str, tuple[int, bytes]], *, partial: bool) -> SmtpRejected:
        if not recipients:
            return SmtpRejected("the message has no recipient address", permanent=True)
        details = "; ".join(f"{address}: {_answer(*reply)}" for address, reply in recipients.items())
        if partial:
            return SmtpRejected(
                f"sent, but the mail server at {self.where} refused some recipients: {details}",
                permanent=True,
            )
        if all(code >= 500 for code, _ in recipients.values()):
            return SmtpRejected(f"the mail server at {self.where} refused it: {details}", permanent=True)
        return SmtpRejected(f"the mail server at {self.where} deferred it: {details}", permanent=False)

    def _rejected(self, exc: smtplib.SMTPResponseException) -> SmtpRejected:
        answer = _answer(exc.smtp_code, exc.smtp_error)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            # About the sender (GROUNDSWELL_MAIL_FROM, credentials) and so about every message,
            # which fixing the settings can cure: retry, unless this message is too large (552).
            hint = "; check the user name and password in GROUNDSWELL_SMTP_URL"
            return SmtpRejected(
                f"the mail server at {self.where} refused the sender {exc.sender}: {answer}"
                + (hint if exc.smtp_code in _AUTHENTICATION_CODES else ""),
                permanent=exc.smtp_code == 552,
            )
        if exc.smtp_code >= 500:
            return SmtpRejected(f"the mail server at {self.where} refused it: {answer}", permanent=True)
        return SmtpRejected(f"the mail server at {self.where} deferred it: {answer}", permanent=False)

    # -- connecting -------------------------------------------------------------------------

    def _connect(self) -> _Connection:
        c = self.config
        try:
            context = ssl.create_default_context(cafile=c.cafile) if c.ssl or c.starttls else None
        except (OSError, ssl.SSLError) as exc:
            raise SmtpUnavailable(f"cannot load the CA certificates in cafile={c.cafile}: {exc}") from None
        client: smtplib.SMTP | None = None
        try:
            # Connecting in the constructor: it checks the 220 greeting and records the host
            # name that TLS verifies the certificate against.
            if c.ssl:
                client = smtplib.SMTP_SSL(
                    c.host, c.port, local_hostname=self.local_hostname, timeout=c.timeout, context=context
                )
            else:
                client = smtplib.SMTP(c.host, c.port, local_hostname=self.local_hostname, timeout=c.timeout)
            if c.starttls:
                code, text = client.starttls(context=context)
                if code != 220:  # smtplib returns the refusal; going on would be cleartext
                    raise smtplib.SMTPResponseException(code, text)
            if c.username:
                client.login(c.username, c.password or "")
        except Exception as exc:
            if client is not None:
                client.close()
            raise SmtpUnavailable(self._explain(exc)) from None
        return _Connection(client)

    def _explain(self, exc: Exception) -> str:
        """Why connecting failed, with the fix when we can guess it (never the password)."""
        c, where = self.config, self.where
        if isinstance(exc, ssl.SSLCertVerificationError):
            hint = "" if c.cafile else "; if it uses a private CA, add cafile=/path/to/ca.pem to the URL"
            problem = exc.verify_message or exc.reason
            return f"the mail server at {where} has a certificate that is not trusted ({problem}){hint}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            answer = _answer(exc.smtp_code, exc.smtp_error)
            return (
                f"the mail server at {where} did not accept the user name and password ({answer}); "
                "check GROUNDSWELL_SMTP_URL"
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            if "STARTTLS" in str(exc):
                return f"the mail server at {where} does not offer STARTTLS"
            hint = "" if c.ssl or c.starttls else "; many offer it only after STARTTLS: add starttls=1"
            return f"the mail server at {where} does not offer AUTH on this connection{hint}"
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"the mail server at {where} answered {_answer(exc.smtp_code, exc.smtp_error)}"
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            return f"the mail server at {where} did not answer within {c.timeout:g}s"
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return f"the mail server at {where} closed the connection: {exc}"
        if isinstance(exc, ssl.SSLError):
            return f"TLS with the mail server at {where} failed: {exc.reason or exc}"
        if isinstance(exc, OSError):
            return f"cannot reach the mail server at {where}: {exc.strerror or exc}"
        return f"the mail server at {where} failed: {exc}"


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(f"{code} {text}".split())  # multi-line answers on one line
