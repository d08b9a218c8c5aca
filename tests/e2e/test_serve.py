"""The README's promises, with real processes: `groundswell serve` on a fresh machine, the
admin's one-time link, API tokens, the PostgreSQL path, a real broker with `groundswell
worker`, health probes, and one clear line (never a traceback) for bad input."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

from core.accounts.sessions import COOKIE_NAME
from tests.support.forms import csrf_token_in
from tests.support.processes import (
    Completed,
    Instance,
    Server,
    drop_postgres_database,
    free_port,
    postgres_database,
    redis_database,
    wait_until,
)

pytestmark = pytest.mark.slow

ADMIN = "ada@example.org"


def report_ready_time(request: pytest.FixtureRequest, label: str, server: Server) -> None:
    """Make the measured start-up time visible in the test output (and the junit XML)."""
    assert server.ready_after is not None
    request.node.user_properties.append((f"serve_ready_seconds[{label}]", round(server.ready_after, 3)))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    line = f"\n[timing] `groundswell serve` answered /readyz 200 after {server.ready_after:.2f}s ({label})"
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(line)
    else:
        print(line)


def one_line_error(result: Completed) -> str:
    """The failure is a single `groundswell: error: …` line on stderr, and no traceback."""
    assert result.returncode != 0, result.describe()
    assert "Traceback" not in result.stderr + result.stdout, result.describe()
    assert len(result.stderr_lines) == 1, result.describe()
    line = result.stderr_lines[0]
    assert line.startswith("groundswell: error: "), result.describe()
    return line


def sign_in_with(browser: httpx.Client, link: str, expect_next: str = "/admin/") -> None:
    """Follow a one-time link as a browser does: GET shows a form, POST it with its token."""
    page = browser.get(link)
    assert page.status_code == 200, page.text
    assert "gs_csrf" in browser.cookies
    used = browser.post(link, data={"_csrf_token": csrf_token_in(page.text)}, follow_redirects=False)
    assert used.status_code == 303, used.text
    assert used.headers["location"] == expect_next
    assert COOKIE_NAME in used.cookies


def request_login_email(browser: httpx.Client, email: str) -> None:
    page = browser.get("/login")
    assert page.status_code == 200, page.text
    sent = browser.post("/login", data={"_csrf_token": csrf_token_in(page.text), "email": email})
    assert sent.status_code == 200, sent.text


def mails(instance: Instance) -> list[Path]:
    return sorted(instance.mail_dir.glob("*.eml")) if instance.mail_dir.is_dir() else []


def read_mail(path: Path):
    with path.open("rb") as handle:
        return BytesParser(policy=policy.default).parse(handle)


# --- The embedded default: `pip install . && groundswell serve` ---------------------------


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, Server]]:
    """A fresh directory, no configuration at all, and `groundswell serve --port P` in it."""
    instance = Instance.create(tmp_path_factory.mktemp("fresh-machine"))
    assert not any(name.startswith("GROUNDSWELL_") for name in instance.env)
    assert not instance.data_dir.exists()
    with instance.serve() as server:
        yield instance, server


def test_serve_on_a_fresh_directory_comes_up_migrated_and_says_how_to_sign_in(embedded, request):
    instance, server = embedded
    report_ready_time(request, "SQLite, fresh data dir", server)
    out = server.stdout
    assert f"Groundswell (instance) at {server.base_url}" in out
    assert f"data: {instance.data_dir}" in out
    assert "background work: in this process" in out
    assert "sign in: run `groundswell admin create" in out
    assert (instance.data_dir / "groundswell.sqlite3").is_file()  # ./groundswell-data, migrated
    assert (instance.data_dir / "secret_key").is_file()

    health = server.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = server.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "in-process"},
        "reasons": [],
    }
    assert "Traceback" not in server.stderr


def test_admin_create_prints_a_one_time_link_that_signs_the_admin_in(embedded):
    instance, server = embedded
    with server.client() as stranger:
        refused = stranger.get("/admin/", follow_redirects=False)
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/login?next=")

    created = instance.run_ok("admin", "create", ADMIN, env={"GROUNDSWELL_PUBLIC_URL": server.base_url})
    link = created.last_line
    assert re.fullmatch(re.escape(server.base_url) + r"/login/[\w-]{20,}", link), created.describe()
    assert ADMIN in created.stdout

    with server.client() as browser:
        sign_in_with(browser, link)
        admin = browser.get("/admin/")
        assert admin.status_code == 200, admin.text
    with server.client() as someone_else:
        again = someone_else.get(link)
        assert again.status_code == 410  # it works once


def test_token_create_prints_the_token_alone_and_revoke_disables_it(embedded):
    instance, server = embedded
    instance.run_ok("admin", "create", ADMIN)
    issued = instance.run_ok("token", "create", ADMIN, "--name", "e2e")
    token = issued.last_line
    assert re.fullmatch(r"gs_[\w-]{20,}", token), issued.describe()
    shown_prefix = re.search(r"API token (\S+) for", issued.stdout)
    assert shown_prefix, issued.describe()
    assert token.startswith(shown_prefix.group(1).rstrip("…"))

    with server.client() as api:
        entry = api.get("/api/v1/", headers={"OSDI-API-Token": token})
        assert entry.status_code == 200, entry.text
        assert entry.json()["motd"] == "Groundswell OSDI API"

        wrong = api.get("/api/v1/", headers={"OSDI-API-Token": token[:-4] + "xxxx"})
        assert wrong.status_code == 401
        assert wrong.headers["content-type"].startswith("application/json")
        assert "OSDI-API-Token" in wrong.json()["message"]

        missing = api.get("/api/v1/")
        assert missing.status_code == 401
        assert missing.headers["content-type"].startswith("application/json")

        revoked = instance.run_ok("token", "revoke", shown_prefix.group(1))  # as printed, with "…"
        assert revoked.last_line == "Revoked 1 token."
        after = api.get("/api/v1/", headers={"OSDI-API-Token": token})
        assert after.status_code == 401
        assert "revoked" in after.json()["message"]

    unknown = instance.run("token", "revoke", "gs_nope00")
    assert "No active token" in one_line_error(unknown)
    nobody = instance.run("token", "create", "nobody@example.org")
    assert "groundswell admin create" in one_line_error(nobody)


def test_readyz_is_503_naming_the_database_when_the_sqlite_file_is_garbage(tmp_path):
    instance = Instance.create(tmp_path)
    with instance.serve() as server:
        database = instance.data_dir / "groundswell.sqlite3"
        for leftover in (
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)
        database.write_bytes(b"this is not a database, just garbage " * 4096)

        health = server.get("/healthz")
        assert health.status_code == 200  # the process is up...
        ready = server.get("/readyz")
        assert ready.status_code == 503  # ...but cannot serve
        body = ready.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "unavailable"
        assert any("database" in reason for reason in body["reasons"]), body


def test_serve_keeps_the_public_url_from_the_dotenv_file(tmp_path):
    instance = Instance.create(tmp_path)
    instance.data_dir.mkdir()
    (instance.data_dir / ".env").write_text("GROUNDSWELL_PUBLIC_URL=https://campaign.example.org\n")
    with instance.serve() as server:
        assert "Groundswell (instance) at https://campaign.example.org" in server.stdout
    link = instance.run_ok("admin", "create", ADMIN).last_line
    assert link.startswith("https://campaign.example.org/login/")


# --- PostgreSQL: `groundswell migrate`, then `groundswell serve` ----------------------------


def test_on_postgresql_serve_asks_for_migrate_then_serves(tmp_path, request):
    with postgres_database() as url:
        instance = Instance.create(tmp_path, DATABASE_URL=url)

        for flags in (["--no-migrate"], []):  # on PostgreSQL, not migrating is the default
            refused = instance.run("serve", *flags, "--port", str(free_port()), timeout=30)
            line = one_line_error(refused)
            assert refused.returncode == 1
            assert "run `groundswell migrate`" in line
            assert "at http" not in refused.stdout  # it never claimed to be serving

        first = instance.run_ok("migrate")
        assert "Running" in first.stdout, first.describe()
        second = instance.run_ok("migrate")  # idempotent
        assert "Running" not in second.stdout, second.describe()

        with instance.serve("--no-migrate") as server:
            report_ready_time(request, "PostgreSQL, migrated", server)
            ready = server.get("/readyz")
            assert ready.json()["checks"] == {"database": "ok", "broker": "in-process"}
            link = instance.run_ok(
                "admin", "create", ADMIN, env={"GROUNDSWELL_PUBLIC_URL": server.base_url}
            ).last_line
            with server.client() as browser:
                sign_in_with(browser, link)
                assert browser.get("/admin/").status_code == 200

            drop_postgres_database(url)  # the database goes away under a running server
            assert server.get("/healthz").status_code == 200
            gone = server.get("/readyz")
            assert gone.status_code == 503
            body = gone.json()
            assert body["checks"]["database"] == "unavailable"
            assert any("database" in reason for reason in body["reasons"]), body


# --- A real broker: `groundswell serve` + `groundswell worker` ------------------------------


@pytest.fixture
def database_settings() -> Iterator[dict[str, str]]:
    """The session's kind of database for a multi-process instance: the embedded SQLite
    default, or a throwaway PostgreSQL database when GROUNDSWELL_TEST_DATABASE_URL is set."""
    if not os.environ.get("GROUNDSWELL_TEST_DATABASE_URL", "").strip():
        yield {}
        return
    with postgres_database() as url:
        yield {"DATABASE_URL": url}


def test_with_redis_a_separate_worker_does_the_background_work(tmp_path, database_settings, request):
    with redis_database() as broker_url:
        instance = Instance.create(tmp_path, BROKER_URL=broker_url, **database_settings)
        if database_settings:
            instance.run_ok("migrate")
        with instance.serve() as server:
            report_ready_time(
                request, f"with Redis, {'PostgreSQL' if database_settings else 'SQLite'}", server
            )
            assert "background work: `groundswell worker` processes" in server.stdout
            ready = server.get("/readyz").json()
            assert ready["checks"]["broker"] == "ok", ready
            instance.run_ok("admin", "create", ADMIN)

            with server.client() as browser:
                request_login_email(browser, ADMIN)
                # serve hands background work to the broker and does none of it itself
                with pytest.raises(AssertionError):
                    wait_until(lambda: mails(instance), timeout=1.0)

                with instance.worker() as worker:
                    first = wait_until(lambda: mails(instance), timeout=15.0)
                    assert len(first) == 1
                    # with the worker consuming, a new request is delivered at once (well inside
                    # the 15 s sweep interval, so it came over the broker)
                    request_login_email(browser, ADMIN)
                    both = wait_until(lambda: len(mails(instance)) == 2 and mails(instance), timeout=10.0)
                    assert "Traceback" not in worker.stderr, worker.describe()

                message = read_mail(both[-1])
                assert message["To"] == ADMIN
                assert message["Subject"] == "Your sign-in link"
                body = message.get_content()
                links = re.findall(re.escape(server.base_url) + r"/login/[\w-]+", body)
                assert links, body
                # the emailed link works too (each mail carries its own single-use link)
                sign_in_with(browser, links[0], expect_next="/")
                assert browser.get("/account/").status_code == 200


@pytest.mark.parametrize(
    "broker_url",
    ["redis://127.0.0.1:1/0", "amqp://guest:guest@127.0.0.1:1/"],
    ids=["redis", "amqp"],
)
def test_readyz_is_503_naming_the_broker_when_it_does_not_answer(tmp_path, broker_url):
    instance = Instance.create(tmp_path, BROKER_URL=broker_url)
    with instance.serve(wait_for="/healthz") as server:
        ready = server.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["checks"] == {"database": "ok", "broker": "unavailable"}
        assert len(body["reasons"]) == 1
        assert "broker" in body["reasons"][0]
        assert "127.0.0.1:1" in body["reasons"][0]
        assert "guest:guest" not in json.dumps(body)  # credentials are redacted


# --- Bad input: one clear line, never a traceback -------------------------------------------


def test_a_bad_setting_value_exits_2_naming_the_variable(tmp_path):
    instance = Instance.create(tmp_path, ROLE="bogus")
    result = instance.run("serve", "--port", str(free_port()))
    line = one_line_error(result)
    assert result.returncode == 2
    assert "GROUNDSWELL_ROLE" in line and "'bogus'" in line
    assert result.stdout == ""


def test_a_misspelt_variable_gets_a_did_you_mean(tmp_path):
    instance = Instance.create(tmp_path, DATABSE_URL="sqlite:///elsewhere.db")
    result = instance.run("migrate")
    line = one_line_error(result)
    assert result.returncode == 2
    assert "GROUNDSWELL_DATABSE_URL" in line
    assert "did you mean GROUNDSWELL_DATABASE_URL?" in line


def test_a_malformed_dotenv_line_exits_2_with_file_and_line(tmp_path):
    instance = Instance.create(tmp_path)
    instance.data_dir.mkdir()
    (instance.data_dir / ".env").write_text("GROUNDSWELL_ROLE=hub\noops\n")
    result = instance.run("migrate")
    line = one_line_error(result)
    assert result.returncode == 2
    assert f"{instance.data_dir / '.env'}:2:" in line


@pytest.mark.parametrize(
    "command",
    [["serve"], ["migrate"], ["admin", "create", ADMIN], ["token", "create", ADMIN]],
    ids=["serve", "migrate", "admin-create", "token-create"],
)
def test_an_unreachable_database_exits_1_with_one_line(tmp_path, command):
    instance = Instance.create(tmp_path, DATABASE_URL="postgresql://127.0.0.1:1/x")
    args = [*command, "--port", str(free_port())] if command == ["serve"] else command
    result = instance.run(*args)
    line = one_line_error(result)
    assert result.returncode == 1
    assert "cannot reach the database at postgresql://127.0.0.1:1/x" in line


def test_worker_without_a_broker_explains_itself(tmp_path):
    result = Instance.create(tmp_path).run("worker")
    line = one_line_error(result)
    assert result.returncode == 1
    assert "GROUNDSWELL_BROKER_URL is empty" in line


def test_worker_with_an_unreachable_broker_exits_1_with_one_line(tmp_path):
    result = Instance.create(tmp_path, BROKER_URL="redis://127.0.0.1:1/0").run("worker")
    line = one_line_error(result)
    assert result.returncode == 1
    assert "broker at redis://127.0.0.1:1/0 does not answer" in line


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_used(tmp_path):
    """Per-address rate limits and abuse views need the signer's address, not the proxy's."""
    import sqlite3

    instance = Instance.create(tmp_path, TRUSTED_PROXIES="127.0.0.1")
    instance.run_ok("demo")
    with instance.serve() as server, server.client() as browser:
        page = browser.get("/p/reopen-the-riverside-footbridge")
        token = page.text.split('name="_csrf_token" value="')[1].split('"')[0]
        signed = browser.post(
            "/p/reopen-the-riverside-footbridge/sign",
            data={"_csrf_token": token, "name": "Pat Proxy", "email": "pat@example.org"},
            headers={"X-Forwarded-For": "198.18.0.7"},
        )
        assert signed.status_code == 200, signed.text
    database = instance.data_dir / "groundswell.sqlite3"
    with sqlite3.connect(database) as connection:
        [(ip,)] = connection.execute(
            "SELECT s.ip FROM signature s JOIN person p ON p.id = s.person "
            "WHERE p.email_key = 'pat@example.org'"
        ).fetchall()
    assert ip == "198.18.0.7"


def test_demo_data_loads_from_the_command_line(tmp_path):
    instance = Instance.create(tmp_path)
    first = instance.run_ok("demo")
    assert "Loaded 4 demo petitions" in first.stdout
    again = instance.run_ok("demo")
    assert "already loaded" in again.stdout
