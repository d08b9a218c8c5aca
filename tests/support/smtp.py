"""A real SMTP server on loopback for tests: aiosmtpd in its own thread, on a port the OS
picked, recording every message it accepts and every connection it sees.

    with SmtpServer() as server:                       # plain SMTP
        ... send to server.url() ...
        [mail] = server.wait_for(1)

    tls = make_tls_files(tmp_path)                     # a private CA and a server certificate
    SmtpServer(tls=tls)                                # offers STARTTLS: url(starttls=True)
    SmtpServer(tls=tls, implicit_tls=True)             # SMTPS: url() is smtps://...
    SmtpServer(tls=tls, credentials={"ann": "pw"})     # AUTH required (only after TLS)
    server.refuse("x@example.org", "451 4.7.1 Try again later")   # per-recipient answers

The client must trust the private CA: `url(...)` adds `cafile=` for a TLS server, exactly
as an instance using a private CA would configure it; verification is never switched off.
Helpers for failure cases: `unused_port()` (nothing listens), `silent_server()` (accepts,
never answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"


# -- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    """A private CA (what clients trust: `ca_path`) and a certificate it issued for
    127.0.0.1 and localhost (what the server presents)."""

    ca_path: Path
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_tls_files(directory: Path) -> TlsFiles:
    """Write a CA and a server certificate (EC P-256, valid for a day) into `directory`.
    A real CA plus leaf, not one self-signed leaf, so strict verification accepts it."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Groundswell test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


# -- the server -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server accepted it."""

    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    tls: bool  # the session was encrypted (STARTTLS or SMTPS)
    login: str | None  # who authenticated, if anyone
    helo: str | None  # the name the client greeted with (EHLO/HELO)


class _Handler:
    """aiosmtpd hooks: answer refusals as configured, record the rest."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.server.refusals.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.server.data_reply:
            return self.server.data_reply
        raw = envelope.original_content or b""
        self.server._record(
            ReceivedMail(
                mail_from=envelope.mail_from or "",
                recipients=tuple(envelope.rcpt_tos),
                raw=raw,
                message=BytesParser(policy=policy.default).parsebytes(raw),  # type: ignore[arg-type]
                tls=server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None,
                login=session.auth_data if session.authenticated else None,
                helo=session.host_name,
            )
        )
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """Serves on a socket we bound ourselves (port 0: no race for a "free" port) and
    reports every connection, so reuse can be counted and connections dropped."""

    def __init__(self, owner: SmtpServer, listener: socket.socket, **kwargs: Any) -> None:
        super().__init__(_Handler(owner), hostname=HOST, port=listener.getsockname()[1], **kwargs)
        self._owner = owner
        self._listener = listener

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._listener, ssl=self.ssl_context)

    def factory(self) -> SMTP:  # called once per incoming connection
        smtp = super().factory()
        self._owner._connected(smtp)
        return smtp


class SmtpServer:
    """A real SMTP server on 127.0.0.1. Use as a context manager, or start()/stop().

    tls: serve STARTTLS with these certificates (or, with implicit_tls, TLS from the first
    byte, like port 465). credentials: {user: password} required before MAIL; by default
    AUTH is offered only on an encrypted connection, as real servers do. port: listen on this
    port (to bring a "crashed" server back at the same address); default: one the OS picks.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        tls: TlsFiles | None = None,
        implicit_tls: bool = False,
        credentials: dict[str, str] | None = None,
        auth_require_tls: bool = True,
        refusals: dict[str, str] | None = None,
    ) -> None:
        if implicit_tls and tls is None:
            raise ValueError("implicit_tls needs tls files")
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.credentials = dict(credentials or {})
        self.refusals = {address.lower(): reply for address, reply in (refusals or {}).items()}
        self.data_reply: str | None = None  # answer every DATA with this instead of accepting
        self._auth_require_tls = auth_require_tls
        self._messages: list[ReceivedMail] = []
        self._sessions: list[SMTP] = []
        self._connections = 0
        self._changed = threading.Condition()
        self._controller: _Controller | None = None
        self.port = port

    # -- life cycle

    def start(self) -> SmtpServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        kwargs: dict[str, Any] = {"ready_timeout": 10.0}
        if self.tls is not None and self.implicit_tls:
            kwargs["ssl_context"] = self.tls.server_context()
        elif self.tls is not None:
            kwargs["tls_context"] = self.tls.server_context()
        if self.credentials:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self._auth_require_tls,
            )
        self._controller = _Controller(self, listener, **kwargs)
        self._controller.start()
        self.reset()  # forget the connection aiosmtpd makes to check that it is up
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what clients see

    def url(self, *, user: str | None = None, password: str | None = None, **options: Any) -> str:
        """The GROUNDSWELL_SMTP_URL for this server. For a TLS server, `cafile` defaults to
        the test CA; pass cafile=None to leave it out. Boolean options become 1/0."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        if self.tls is not None:
            options.setdefault("cafile", str(self.tls.ca_path))
        query = {
            name: (int(value) if isinstance(value, bool) else value)
            for name, value in options.items()
            if value is not None
        }
        auth = ""
        if user is not None:
            secret = f":{quote(password, safe='')}" if password is not None else ""
            auth = f"{quote(user, safe='')}{secret}@"
        return f"{scheme}://{auth}{HOST}:{self.port}" + (f"?{urlencode(query)}" if query else "")

    def refuse(self, address: str, reply: str) -> None:
        """Answer RCPT TO:<address> with `reply`, e.g. "550 5.1.1 No such user"."""
        self.refusals[address.lower()] = reply

    def accept(self, address: str) -> None:
        self.refusals.pop(address.lower(), None)

    # -- what the server saw

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._changed:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """Connections opened since start (or the last reset)."""
        with self._changed:
            return self._connections

    def reset(self) -> None:
        with self._changed:
            self._messages.clear()
            self._connections = 0

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Until at least `count` messages arrived; raises AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} messages, got {len(self._messages)}")
                self._changed.wait(left)
            return list(self._messages)

    def drop_connections(self) -> None:
        """Close every open connection from the server side, as an idle timeout or a restart
        would; clients only notice on their next command."""
        assert self._controller is not None
        loop = self._controller.loop

        async def close_all() -> None:
            for session in self._sessions:
                if session.transport is not None:
                    session.transport.close()
            self._sessions.clear()

        asyncio.run_coroutine_threadsafe(close_all(), loop).result(5)

    # -- called from the server thread

    def _connected(self, session: SMTP) -> None:
        with self._changed:
            self._connections += 1
            self._sessions = [s for s in self._sessions if s.transport is not None]
            self._sessions.append(session)

    def _record(self, mail: ReceivedMail) -> None:
        with self._changed:
            self._messages.append(mail)
            self._changed.notify_all()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            if self.credentials.get(user) == auth_data.password.decode("utf-8", "replace"):
                return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)


# -- failure helpers --------------------------------------------------------------------------


def unused_port() -> int:
    """A loopback port nothing listens on (connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never says a word, like a
    hung server or a firewall that swallows packets. Yields the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def url_for_port(port: int, **options: Any) -> str:
    query = urlencode({k: (int(v) if isinstance(v, bool) else v) for k, v in options.items()})
    return f"smtp://{HOST}:{port}" + (f"?{query}" if query else "")
