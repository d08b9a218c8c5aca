"""`groundswell`: run, migrate and administer an instance."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any

import click

from core.cli.demo import demo
from core.cli.errors import fail, friendly_errors
from core.cli.logs import configure_logging
from core.cli.mail import mail
from core.cli.members import members
from core.cli.plugins import add_plugin_commands, plugins
from core.db.migrations import MigrationFailed
from core.settings import Settings, current_settings, environment


def _settings() -> Settings:
    settings = current_settings()
    configure_logging(settings.log_level)
    return settings


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def _ready_database(migrate: bool | None = None) -> None:
    """Check the database answers and its schema is current. On the embedded SQLite default
    migrations are applied on the spot; elsewhere a pending migration is an error, because
    production upgrades run `groundswell migrate` once, as its own step."""
    from core.db import check_database
    from core.db import migrate as run_migrations
    from core.db.migrations import pending_migrations

    await check_database()
    if migrate is None:
        migrate = current_settings().is_sqlite
    if migrate:
        await run_migrations()
        return
    pending = await pending_migrations()
    if pending:
        raise MigrationFailed(
            f"the database needs migrations ({', '.join(pending)}); run `groundswell migrate` first"
        )


def _with_database(coro: Coroutine[Any, Any, Any]) -> Any:
    async def go() -> Any:
        await _ready_database()
        return await coro

    try:
        return _run(go())
    finally:
        coro.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="groundswell")
def cli() -> None:
    """Groundswell: a federated, self-hostable platform for people-powered campaigns."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--migrate/--no-migrate",
    "migrate",
    default=None,
    help="Apply migrations before serving (default: yes on SQLite, no on PostgreSQL).",
)
@friendly_errors
def serve(host: str, port: int, migrate: bool | None) -> None:
    """Serve the web app. Without a broker, background work runs in this process too."""
    if not environment().get("GROUNDSWELL_PUBLIC_URL", "").strip():  # not in the env nor .env
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        shown = f"[{shown}]" if ":" in shown else shown  # an IPv6 address
        os.environ["GROUNDSWELL_PUBLIC_URL"] = f"http://{shown}:{port}"
    settings = _settings()
    _run(_ready_database(migrate))

    import uvicorn

    from core.web.app import create_app

    click.echo(f"Groundswell ({settings.role}) at {settings.public_url}")
    click.echo(f"  data: {settings.data_dir}")
    click.echo(
        "  background work: "
        + ("in this process" if not settings.has_broker else "`groundswell worker` processes")
    )
    click.echo("  sign in: run `groundswell admin create you@example.org` and open the link")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        # Only a configured proxy may say who the client is (X-Forwarded-For/-Proto).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
    )


@cli.command()
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(1, 64),
    help="Worker threads (default: GROUNDSWELL_WORKER_THREADS, 4).",
)
@friendly_errors
def worker(threads: int | None) -> None:
    """Process background work from the broker (GROUNDSWELL_BROKER_URL)."""
    settings = _settings()
    if not settings.has_broker:
        fail(
            "GROUNDSWELL_BROKER_URL is empty: without a broker, `groundswell serve` does the "
            "background work itself"
        )
    from core.tasks.broker import check_broker
    from core.tasks.worker import run_worker_process

    check_broker(settings.broker_url)
    _run(_ready_database(migrate=False))
    run_worker_process(settings.broker_url, threads or settings.worker_threads, settings.sweep_seconds)


@cli.command()
@friendly_errors
def migrate() -> None:
    """Apply core's and every enabled plugin's database migrations (safe to repeat)."""
    _settings()
    from core.db import check_database
    from core.db import migrate as run_migrations

    async def go() -> str:
        await check_database()
        return await run_migrations()

    click.echo(_run(go()).strip() or "Nothing to do.")


@cli.group()
def admin() -> None:
    """Administrators."""


@admin.command("create")
@click.argument("email")
@click.option("--name", default="", help="The person's name, for new people.")
@friendly_errors
def admin_create(email: str, name: str) -> None:
    """Make EMAIL an admin and print a one-time sign-in link (valid 24 hours)."""
    settings = _settings()
    from core.accounts.login_links import ADMIN_TTL, create_login_link
    from core.accounts.logins import ensure_login, set_role

    async def go() -> str:
        await ensure_login(email, "admin", name=name)
        login = await set_role(email, "admin")
        return await create_login_link(login, next_path="/admin/", ttl=ADMIN_TTL)

    token = _with_database(go())
    click.echo(f"{email} is an admin. Open this link to sign in (it works once, for 24 hours):")
    click.echo(f"{settings.public_url}/login/{token}")


@cli.group()
def token() -> None:
    """API tokens for the OSDI API."""


@token.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
@friendly_errors
def token_create(email: str, name: str) -> None:
    """Create an API token for EMAIL's login; the token is the last line printed."""
    _settings()
    from core.accounts.api_tokens import create_api_token_for_email

    issued = _with_database(create_api_token_for_email(email, name))
    click.echo(f"API token {issued.prefix}… for {email}. It is shown once; store it now:")
    click.echo(issued.secret)


@token.command("revoke")
@click.argument("prefix")
@friendly_errors
def token_revoke(prefix: str) -> None:
    """Revoke the token that starts with PREFIX (as shown on the account page)."""
    _settings()
    from core.accounts.api_tokens import revoke_api_token_by_prefix

    count = _with_database(revoke_api_token_by_prefix(prefix.rstrip("…")))
    click.echo(f"Revoked {count} token{'s' if count != 1 else ''}.")


cli.add_command(members)
cli.add_command(mail)
cli.add_command(demo)
cli.add_command(plugins)


def main() -> None:
    add_plugin_commands(cli)
    cli(prog_name="groundswell")
