"""Sending email through the outbox: over SMTP to a real server on loopback (plain, STARTTLS,
SMTPS, AUTH, connection reuse, refusals, outages), and on the embedded default as files an
admin reads at /admin/mail; and signing in by emailed link, end to end."""

from __future__ import annotations

import dataclasses
import json
import re
import stat
import time
from collections.abc import Callable, Iterator
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest

import core.mail.outbox
import core.mail.smtp
from core.accounts.logins import ensure_login
from core.accounts.sessions import COOKIE_NAME
from core.mail import FileBackend, OutgoingMail, close_backends, queue_mail
from core.mail.message import message_id_for
from core.mail.queue import TOPIC
from core.outbox import OutboxWork, drain
from core.outbox.tables import OutboxItem
from core.settings import Settings, SettingsError, current_settings, parse_smtp_url
from tests.support.accounts import sign_in
from tests.support.forms import csrf_token_in, submit
from tests.support.outbox import wait_for_outbox
from tests.support.smtp import SmtpServer, TlsFiles, make_tls_files, silent_server, unused_port, url_for_port

# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Start SMTP servers (keyword arguments as for SmtpServer); all stop after the test."""
    started: list[SmtpServer] = []

    def start(**kwargs: Any) -> SmtpServer:
        server = SmtpServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def mail_settings(monkeypatch: pytest.MonkeyPatch, smtp_server: Any) -> Iterator[Callable[..., Settings]]:
    """Point the mail handler at other settings (an SMTP URL, a data dir) for this test only.
    The process-wide settings stay as they are; pooled connections are closed afterwards
    (before the servers stop, as this fixture depends on theirs)."""

    def use(**changes: Any) -> Settings:
        settings = dataclasses.replace(current_settings(), **changes)
        monkeypatch.setattr(core.mail.outbox, "current_settings", lambda: settings)
        return settings

    yield use
    close_backends()


# -- helpers --------------------------------------------------------------------------------------


def mail_to(address: str, n: int = 0, **kwargs: Any) -> OutgoingMail:
    return OutgoingMail(to=address, subject=f"Message {n}", text=f"Hello, this is message {n}.", **kwargs)


async def item(key: str) -> dict[str, Any]:
    row = await OutboxItem.select().where(OutboxItem.key == key).first()
    assert row is not None, f"no outbox item {key}"
    return row


async def make_due() -> None:
    """Pretend the backoff has passed."""
    await OutboxItem.update({OutboxItem.available_at: 0.0}).where(OutboxItem.status == "pending")


def body(message: Any, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None, f"no {kind} part"
    return part.get_content().strip()


# -- SMTP -----------------------------------------------------------------------------------------


async def test_plain_smtp_delivers_text_and_html_with_a_message_id_from_the_outbox_key(
    smtp_server, mail_settings
):
    server = smtp_server()
    settings = mail_settings(smtp_url=server.url())
    await queue_mail(
        OutgoingMail(
            to="Ann Example <ann@example.org>",
            subject="Welcome, Ann",
            text="Plain words.",
            html="<p>Rich <strong>words</strong>.</p>",
            headers={"Reply-To": "team@example.org"},
        ),
        key="welcome:ann",
    )

    assert (await drain(TOPIC))["done"] == 1

    [mail] = server.wait_for(1)
    assert mail.recipients == ("ann@example.org",)
    assert mail.mail_from == parseaddr(settings.mail_from)[1]
    assert mail.helo == "testserver.local"  # the instance's name, not the machine's
    assert not mail.tls
    message = mail.message
    assert message["Subject"] == "Welcome, Ann"
    assert message["Reply-To"] == "team@example.org"
    assert message["Message-ID"] == message_id_for("welcome:ann", "testserver.local")
    assert message["Message-ID"] != message_id_for("welcome:bob", "testserver.local")
    assert body(message, "plain") == "Plain words."
    assert body(message, "html") == "<p>Rich <strong>words</strong>.</p>"
    assert (await item("welcome:ann"))["status"] == "done"


async def test_starttls_with_a_private_ca(smtp_server, mail_settings, tls):
    server = smtp_server(tls=tls)
    mail_settings(smtp_url=server.url(starttls=True))
    await queue_mail(mail_to("ann@example.org"), key="m1")
    await drain(TOPIC)
    [mail] = server.wait_for(1)
    assert mail.tls


async def test_smtps_with_a_private_ca(smtp_server, mail_settings, tls):
    server = smtp_server(tls=tls, implicit_tls=True)
    assert server.url().startswith("smtps://")
    mail_settings(smtp_url=server.url())
    await queue_mail(mail_to("ann@example.org"), key="m1")
    await drain(TOPIC)
    [mail] = server.wait_for(1)
    assert mail.tls


async def test_an_untrusted_certificate_is_refused_with_advice(smtp_server, mail_settings, tls):
    server = smtp_server(tls=tls, implicit_tls=True)
    mail_settings(smtp_url=server.url(cafile=None))  # the system CAs do not know the test CA
    await queue_mail(mail_to("ann@example.org"), key="m1")
    await drain(TOPIC)

    row = await item("m1")
    assert row["status"] == "pending"
    assert "certificate that is not trusted" in row["last_error"]
    assert "cafile=" in row["last_error"]
    assert server.messages == []


async def test_starttls_required_but_not_offered_never_falls_back_to_cleartext(smtp_server, mail_settings):
    server = smtp_server()  # no TLS at all
    mail_settings(smtp_url=server.url(starttls=True))
    await queue_mail(mail_to("ann@example.org"), key="m1")
    await drain(TOPIC)

    row = await item("m1")
    assert row["status"] == "pending"
    assert "does not offer STARTTLS" in row["last_error"]
    assert server.messages == []


async def test_auth_with_the_right_and_the_wrong_password(smtp_server, mail_settings, tls):
    password = "s3cret pass/word@%"  # needs quoting in the URL
    server = smtp_server(tls=tls, credentials={"mailer": password})

    mail_settings(smtp_url=server.url(user="mailer", password="wrong", starttls=True))
    await queue_mail(mail_to("ann@example.org"), key="m1")
    await drain(TOPIC)
    row = await item("m1")
    assert row["status"] == "pending"  # not lost: retried once the settings are fixed
    assert "did not accept the user name and password" in row["last_error"]
    assert "535" in row["last_error"]
    assert "wrong" not in row["last_error"]
    assert server.messages == []

    mail_settings(smtp_url=server.url(user="mailer", password=password, starttls=True))
    await make_due()
    await drain(TOPIC)
    [mail] = server.wait_for(1)
    assert mail.login == "mailer"
    assert mail.tls
    assert (await item("m1"))["status"] == "done"


async def test_a_server_that_needs_auth_but_gets_none_says_so(smtp_server, mail_settings, tls):
    server = smtp_server(tls=tls, credentials={"mailer": "pw"})
    mail_settings(smtp_url=server.url(starttls=True))
    await queue_mail(mail_to("ann@example.org"), key="m1")
    await drain(TOPIC)
    row = await item("m1")
    assert row["status"] == "pending"
    assert "530" in row["last_error"]
    assert "user name and password" in row["last_error"]


async def test_auth_offered_only_after_tls_is_explained(smtp_server, mail_settings, tls):
    server = smtp_server(tls=tls, credentials={"mailer": "pw"})
    mail_settings(smtp_url=server.url(user="mailer", password="pw", cafile=None))  # forgot starttls=1
    await queue_mail(mail_to("ann@example.org"), key="m1")
    await drain(TOPIC)
    row = await item("m1")
    assert row["status"] == "pending"
    assert "does not offer AUTH" in row["last_error"]
    assert "starttls=1" in row["last_error"]


async def test_many_messages_share_one_connection(smtp_server, mail_settings):
    server = smtp_server()
    mail_settings(smtp_url=server.url())
    for n in range(20):
        await queue_mail(mail_to(f"person{n}@example.org", n), key=f"bulk:{n}")

    counts = await drain(TOPIC)

    assert counts["done"] == 20
    assert len(server.wait_for(20)) == 20
    assert server.connections == 1


async def test_a_connection_is_renewed_after_a_number_of_messages(smtp_server, mail_settings, monkeypatch):
    monkeypatch.setattr(core.mail.smtp, "MAX_MESSAGES_PER_CONNECTION", 5)  # providers cap it
    server = smtp_server()
    mail_settings(smtp_url=server.url())
    for n in range(12):
        await queue_mail(mail_to(f"person{n}@example.org", n), key=f"bulk:{n}")
    assert (await drain(TOPIC))["done"] == 12
    assert len(server.wait_for(12)) == 12
    assert server.connections == 3


async def test_a_dropped_connection_is_replaced_without_losing_the_message(smtp_server, mail_settings):
    server = smtp_server()
    mail_settings(smtp_url=server.url())
    await queue_mail(mail_to("ann@example.org", 1), key="m1")
    await drain(TOPIC)
    server.wait_for(1)

    server.drop_connections()  # an idle timeout or a restart on the server's side
    await queue_mail(mail_to("bob@example.org", 2), key="m2")
    await drain(TOPIC)

    messages = server.wait_for(2)
    assert [m.recipients for m in messages] == [("ann@example.org",), ("bob@example.org",)]
    assert (await item("m2"))["status"] == "done"
    assert (await item("m2"))["attempts"] == 1  # reconnected within the same attempt
    assert server.connections == 2


async def test_a_4xx_answer_is_retried_later_with_the_servers_reason(smtp_server, mail_settings):
    server = smtp_server()
    server.refuse("grey@example.org", "451 4.7.1 Greylisted, please try again later")
    mail_settings(smtp_url=server.url())
    await queue_mail(mail_to("grey@example.org", 1), key="grey")
    await queue_mail(mail_to("ann@example.org", 2), key="ann")
    before = time.time()

    counts = await drain(TOPIC)

    assert counts == {"done": 1, "retry": 1, "dead": 0, "lost": 0, "more": 0}
    row = await item("grey")
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert "451 4.7.1 Greylisted, please try again later" in row["last_error"]
    assert row["available_at"] > before + 10  # backed off, not hammering the server
    assert server.connections == 1  # a refusal does not cost the connection

    server.accept("grey@example.org")
    await make_due()
    await drain(TOPIC)
    delivered = {m.recipients[0]: m for m in server.wait_for(2)}
    # The retry carries the same Message-ID as any earlier attempt: duplicates are recognisable.
    assert delivered["grey@example.org"].message["Message-ID"] == message_id_for("grey", "testserver.local")
    assert (await item("grey"))["status"] == "done"


async def test_a_5xx_answer_is_dead_with_the_servers_reason(smtp_server, mail_settings):
    server = smtp_server()
    server.refuse("gone@example.org", "550 5.1.1 No such user here")
    mail_settings(smtp_url=server.url())
    await queue_mail(mail_to("gone@example.org", 1), key="gone")
    await queue_mail(mail_to("ann@example.org", 2), key="ann")

    counts = await drain(TOPIC)

    assert counts["dead"] == 1 and counts["done"] == 1
    row = await item("gone")
    assert row["status"] == "dead"
    assert "550 5.1.1 No such user here" in row["last_error"]
    assert "gone@example.org" in row["last_error"]
    assert row["finished_at"] is not None
    assert [m.recipients for m in server.wait_for(1)] == [("ann@example.org",)]


async def test_a_partly_refused_message_is_not_sent_again_to_the_others(smtp_server, mail_settings):
    server = smtp_server()
    server.refuse("gone@example.org", "550 5.1.1 No such user here")
    mail_settings(smtp_url=server.url())
    await queue_mail(mail_to("ann@example.org, gone@example.org"), key="both")
    await drain(TOPIC)
    row = await item("both")
    assert row["status"] == "dead"  # a retry would give ann a second copy
    assert "refused some recipients: gone@example.org: 550 5.1.1 No such user here" in row["last_error"]
    assert [m.recipients for m in server.wait_for(1)] == [("ann@example.org",)]


async def test_a_message_refused_at_data_is_dead(smtp_server, mail_settings):
    server = smtp_server()
    server.data_reply = "554 5.6.0 Message looks like spam"
    mail_settings(smtp_url=server.url())
    await queue_mail(mail_to("ann@example.org"), key="m1")
    await drain(TOPIC)
    row = await item("m1")
    assert row["status"] == "dead"
    assert "554 5.6.0 Message looks like spam" in row["last_error"]


async def test_a_server_that_is_down_is_retried_and_the_message_not_lost(smtp_server, mail_settings):
    port = unused_port()
    mail_settings(smtp_url=url_for_port(port))
    await queue_mail(mail_to("ann@example.org"), key="m1")

    assert (await drain(TOPIC))["retry"] == 1
    row = await item("m1")
    assert row["status"] == "pending"
    assert f"cannot reach the mail server at 127.0.0.1:{port}" in row["last_error"]

    server = smtp_server(port=port)  # back up at the same address
    await make_due()
    await drain(TOPIC)
    assert [m.recipients for m in server.wait_for(1)] == [("ann@example.org",)]
    assert (await item("m1"))["status"] == "done"


async def test_a_server_that_never_answers_times_out_and_is_retried(mail_settings):
    with silent_server() as port:
        mail_settings(smtp_url=url_for_port(port, timeout=0.3))
        await queue_mail(mail_to("ann@example.org"), key="m1")
        started = time.monotonic()
        await drain(TOPIC)
        assert time.monotonic() - started < 5
    row = await item("m1")
    assert row["status"] == "pending"
    assert "did not answer within 0.3s" in row["last_error"]


async def test_mail_that_cannot_be_built_is_dead_and_nothing_is_sent(smtp_server, mail_settings):
    server = smtp_server()
    mail_settings(smtp_url=server.url())
    await queue_mail(OutgoingMail(to="not an address", subject="Hi", text="x"), key="bad-to")
    await queue_mail(
        OutgoingMail(to="ann@example.org", subject="Hi\r\nBcc: x@evil.example", text="x"), key="crlf"
    )
    await queue_mail(mail_to("ann@example.org", headers={"Bad Name": "x"}), key="bad-header")

    assert (await drain(TOPIC))["dead"] == 3
    assert "no recipient address" in (await item("bad-to"))["last_error"]
    assert "linefeed" in (await item("crlf"))["last_error"]
    assert "not a valid header name" in (await item("bad-header"))["last_error"]
    assert server.messages == []


def test_the_smtp_url_accepts_a_cafile_and_refuses_unsafe_or_unknown_options(tls):
    cafile = str(tls.ca_path)
    parsed = parse_smtp_url(f"smtp://u:p%40ss@mail.example.org:587?starttls=1&cafile={cafile}&timeout=5")
    assert (parsed.starttls, parsed.cafile, parsed.password, parsed.timeout) == (True, cafile, "p@ss", 5.0)
    assert parse_smtp_url(f"smtps://mail.example.org?cafile={cafile}").port == 465
    refused = {
        "smtp://mail.example.org?verify=0": "unknown option",
        "smtp://mail.example.org?starttls=maybe": "starttls must be 1 or 0",
        f"smtp://mail.example.org?cafile={cafile}": "cafile needs smtps:// or starttls=1",
        "smtps://mail.example.org?cafile=/no/such/ca.pem": "not a readable file",
        "smtps://mail.example.org?starttls=1": "already encrypted",
        "smtp://mail.example.org?timeout=0": "timeout must be between",
        "smtp://mail.example.org?timeout=nan": "timeout must be between",
    }
    for url, reason in refused.items():
        with pytest.raises(SettingsError, match=reason):
            parse_smtp_url(url)


# -- the file backend and /admin/mail -------------------------------------------------------------


async def test_the_file_backend_writes_one_private_eml_per_message_and_a_retry_overwrites(
    mail_settings, tmp_path: Path
):
    settings = mail_settings(smtp_url="", data_dir=tmp_path)
    for n in range(3):
        await queue_mail(mail_to(f"person{n}@example.org", n, html=f"<p>{n}</p>"), key=f"file:{n}")
    assert (await drain(TOPIC))["done"] == 3

    files = sorted(settings.mail_dir.glob("*.eml"))
    assert len(files) == 3
    assert not list(settings.mail_dir.glob(".*"))  # no temporary files left behind
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    backend = FileBackend(settings.mail_dir)
    assert backend.count() == 3
    first = backend.read(files[0].name)
    assert first is not None and first["To"].startswith("person")

    # A retry of the same key (say the worker crashed after writing) replaces the file.
    row = await item("file:1")
    payload = json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
    retry = OutboxWork(id=row["id"], topic=TOPIC, key="file:1", payload=payload, attempts=2)
    await core.mail.outbox.send_queued_mail(retry)
    assert len(list(settings.mail_dir.glob("*.eml"))) == 3


async def admin_mail_link(client: Any, subject: str) -> str:
    listing = await client.get("/admin/mail")
    assert listing.status_code == 200, listing.text
    match = re.search(r'href="(/admin/mail/[0-9a-f]+\.eml)">' + re.escape(subject) + "<", listing.text)
    assert match, f"{subject!r} is not listed"
    return match.group(1)


async def test_admins_read_outgoing_mail_at_admin_mail(client):
    await sign_in(client, "root@example.org", "admin")
    await queue_mail(
        OutgoingMail(
            to="reader@example.org",
            subject="Admin mail view test",
            text="The text part.",
            html="<p>The <em>HTML</em> part.</p>",
        )
    )
    await wait_for_outbox()

    link = await admin_mail_link(client, "Admin mail view test")
    shown = await client.get(link)
    assert shown.status_code == 200
    assert "reader@example.org" in shown.text
    assert "The text part." in shown.text
    assert "&lt;p&gt;The &lt;em&gt;HTML&lt;/em&gt; part.&lt;/p&gt;" in shown.text  # only in a sandbox

    for page in ("0", "-3", "999999"):
        assert (await client.get(f"/admin/mail?page={page}")).status_code == 200
    bad_page = await client.get("/admin/mail?page=abc")
    assert bad_page.status_code == 400
    assert "Traceback" not in bad_page.text


async def test_admin_mail_is_for_admins_only(client):
    await queue_mail(OutgoingMail(to="x@example.org", subject="Members must not see this", text="x"))
    await wait_for_outbox()
    name = FileBackend(current_settings().mail_dir).list(limit=1)[0].name

    anonymous = await client.get("/admin/mail", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=")
    assert (await client.get(f"/admin/mail/{name}", follow_redirects=False)).status_code == 303

    await sign_in(client, "member@example.org", "member")
    for path in ("/admin/mail", f"/admin/mail/{name}"):
        refused = await client.get(path)
        assert refused.status_code == 403
        assert "Members must not see this" not in refused.text


STRANGE_NAMES = [
    "..%2F..%2Fsecret_key",
    "%2e%2e%2f%2e%2e%2fsecret_key",
    "..%5C..%5Csecret_key.eml",
    "secret_key",
    "..eml",
    ".hidden.eml",
    "a%00.eml",
    "%ff%fe.eml",
    "0" * 24 + ".eml",  # well-formed, but there is no such message
    "a" * 5000 + ".eml",
]


async def test_a_strange_message_name_is_not_found(client):
    await sign_in(client, "root@example.org", "admin")
    for name in STRANGE_NAMES:
        response = await client.get(f"/admin/mail/{name}")
        assert response.status_code == 404, (name, response.text)
        assert "Traceback" not in response.text


# -- signing in by email --------------------------------------------------------------------------


def mail_for(address: str) -> list[Any]:
    backend = FileBackend(current_settings().mail_dir)
    found = []
    for path in backend.list(limit=10_000):
        message = backend.read(path.name)
        if message is not None and message["To"].lower() == address.lower():
            found.append(message)
    return found


async def test_signing_in_with_an_emailed_link(client):
    await ensure_login("lin@example.org", "member")

    sent = await submit(client, "/login", "/login", {"email": "Lin@Example.org", "next": "/account/"})
    assert sent.status_code == 200
    assert "Check your email" in sent.text
    await wait_for_outbox()

    [message] = mail_for("lin@example.org")
    assert message["Subject"] == "Your sign-in link"
    match = re.search(r"http://testserver\.local(/login/[A-Za-z0-9_\-]+)", body(message, "plain"))
    assert match, body(message, "plain")
    link = match.group(1)

    page = await client.get(link)
    assert page.status_code == 200
    assert "Continue" in page.text
    used = await client.post(link, data={"_csrf_token": csrf_token_in(page.text)}, follow_redirects=False)
    assert used.status_code == 303
    assert used.headers["location"] == "/account/"
    assert COOKIE_NAME in used.cookies
    assert (await client.get("/account/", follow_redirects=False)).status_code == 200


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(client):
    sent = await submit(client, "/login", "/login", {"email": "nobody@example.org"})
    assert sent.status_code == 200
    assert "Check your email" in sent.text
    await wait_for_outbox()
    assert await OutboxItem.count().where(OutboxItem.topic == "mail.send") == 0
    assert mail_for("nobody@example.org") == []
