"""`groundswell federation …`: keys, pairing, peers, delivery and key rotation.

Commands talk to the database of the node whose settings they run with (the same
GROUNDSWELL_* variables as `serve`) and print one readable line on failure, never a
traceback. `invite` prints as its last line the exact command the instance's admin runs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from core.plugin_api import UserError
from federation import outbound, pairing
from federation.identity import load_identity
from federation.keyring import DEFAULT_OVERLAP_SECONDS
from federation.peers import peer_views, set_status
from federation.rotation import revoke_and_announce, rotate_and_announce
from federation.tables import FederationPeer

T = TypeVar("T")


def _fail(message: str) -> None:
    click.echo(f"groundswell: error: {message}", err=True)
    sys.exit(1)


def _run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    async def go() -> T:
        try:
            ready = await FederationPeer.table_exists()
        except Exception as exc:
            raise UserError(f"the database is not reachable: {exc}") from None
        if not ready:
            raise UserError("federation's tables do not exist yet; run `groundswell migrate` first")
        return await coro_fn()

    return asyncio.run(go())


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UserError, ValueError) as exc:
            _fail(str(getattr(exc, "message", exc)))
        except click.exceptions.Exit:
            raise
        except Exception as exc:
            logging.getLogger("groundswell.cli").debug("unexpected error", exc_info=exc)
            _fail(f"unexpected {type(exc).__name__}: {exc}")

    return wrapper


@click.group("federation")
def federation() -> None:
    """Federation: this node's keys, pairing with a hub, peers and delivery."""


@federation.command("keys")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@friendly
def keys(as_json: bool) -> None:
    """This node's id, role, origin and key fingerprint (generated on first use)."""
    identity = load_identity()
    data = {
        "node_id": identity.node_id,
        "role": identity.role,
        "origin": identity.origin,
        "fingerprint": identity.fingerprint,
        "key_id": identity.key.key_id,
        "keys": identity.ring.to_json(),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"node id:     {identity.node_id}")
    click.echo(f"role:        {identity.role}")
    click.echo(f"origin:      {identity.origin}")
    for entry in identity.ring.entries.values():
        if entry.status != "current":
            click.echo(f"{entry.status} key:     {entry.key_id} (expires {entry.expires or '-'})")
    click.echo(f"fingerprint: {identity.fingerprint}")


@federation.command("invite")
@click.option("--origin", required=True, help="The instance's public URL (its GROUNDSWELL_PUBLIC_URL).")
@friendly
def invite(origin: str) -> None:
    """(hub) A single-use invite for the instance at --origin, valid 72 hours."""
    created = _run(lambda: pairing.create_invite(origin))
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(created.expires_at))
    click.echo(f"Invite for {created.origin}, valid until {until}")
    click.echo(f"token:           {created.token}")
    click.echo(f"hub fingerprint: {created.fingerprint}")
    click.echo("On the instance, run:")
    click.echo(created.join_command)


@federation.command("join")
@click.argument("hub_url")
@click.argument("token")
@click.argument("fingerprint")
@friendly
def join(hub_url: str, token: str, fingerprint: str) -> None:
    """(instance) Pair with the hub at HUB_URL using its invite TOKEN and FINGERPRINT."""
    result = _run(lambda: pairing.join(hub_url, token, fingerprint))
    click.echo(f"Pairing requested with hub {result['hub']} at {result['origin']}.")
    click.echo("It becomes active when the hub's admin approves it (`groundswell federation peers`).")


@federation.command("approve")
@click.argument("node_id")
@friendly
def approve(node_id: str) -> None:
    """(hub) Approve a pending instance."""
    _run(lambda: pairing.approve(node_id))
    click.echo(f"Approved {node_id}.")


@federation.command("peers")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of peers.")
@friendly
def peers(as_json: bool) -> None:
    """Paired nodes with their status (pending, active, suspended) and delivery state."""
    views = _run(peer_views)
    if as_json:
        click.echo(json.dumps([v.as_json() for v in views], indent=2))
        return
    if not views:
        click.echo("No peers.")
    for v in views:
        line = f"{v.node_id}  {v.role:8}  {v.status:9}  {v.origin}  waiting {v.pending}, dead {v.dead}"
        if v.failures:
            next_try = time.strftime("%H:%M:%S", time.gmtime(v.next_attempt_at))
            line += f", {v.failures} failures, next try {next_try} UTC"
        click.echo(line)


@federation.command("suspend")
@click.argument("node_id")
@friendly
def suspend(node_id: str) -> None:
    """The kill switch: refuse every request from NODE_ID and hold events for it."""
    _run(lambda: set_status(node_id, "suspended"))
    click.echo(f"Suspended {node_id}.")


@federation.command("unsuspend")
@click.argument("node_id")
@friendly
def unsuspend(node_id: str) -> None:
    """Lift a suspension."""
    _run(lambda: pairing.approve(node_id))
    click.echo(f"{node_id} is active again.")


@federation.command("deliver")
@friendly
def deliver() -> None:
    """Deliver what waits for every peer now (ignoring backoff), and show the outcome."""

    async def go() -> list[str]:
        lines = []
        for node_id in await outbound.all_peers():
            await FederationPeer.update({FederationPeer.next_attempt_at: 0.0}).where(
                FederationPeer.node_id == node_id
            )
            lines.append(await outbound.deliver_to_peer(node_id))
        return lines

    for line in _run(go):
        click.echo(line)


@federation.command("catch-up")
@click.argument("node_id")
@friendly
def catch_up(node_id: str) -> None:
    """Pull the events NODE_ID queued for this node (after an outage)."""

    async def go() -> int:
        peer = await FederationPeer.objects().where(FederationPeer.node_id == node_id).first()
        if peer is None:
            raise UserError(f"no peer {node_id}; `groundswell federation peers` lists them")
        if peer.status != "active":
            raise UserError(f"peer {node_id} is {peer.status}; only an active peer is caught up with")
        return await outbound.catch_up(node_id)

    received = _run(go)
    click.echo(f"{received} events received from {node_id}.")


@federation.command("dead-letters")
@click.option("--retry", "retry_peer", default="", help="Queue NODE_ID's dead letters again.")
@friendly
def dead_letters(retry_peer: str) -> None:
    """Events that were refused or undelivered for 30 days."""
    if retry_peer:
        count = _run(lambda: outbound.retry_dead_letters(retry_peer))
        click.echo(f"{count} events queued again for {retry_peer}.")
        return
    for row in _run(lambda: outbound.dead_letters(500)):
        click.echo(f"{row['peer']}  {row['event_type']}  {row['event_id']}  {row['last_error']}")


@federation.command("rotate-key")
@click.option(
    "--overlap-days", default=DEFAULT_OVERLAP_SECONDS // 86400, show_default=True, type=click.IntRange(1, 30)
)
@friendly
def rotate(overlap_days: int) -> None:
    """A new node key; peers learn it from a key.rotated event signed by the old and new key.
    The old key stays valid for the overlap, then expires."""
    old, new = _run(lambda: rotate_and_announce(overlap_days * 86400))
    click.echo(f"old key {old.fingerprint} stays valid for {overlap_days} days")
    click.echo(f"new fingerprint: {new.fingerprint}")


@federation.command("revoke-key")
@click.argument("key_id")
@click.option("--reason", default="", help="Shown to peers' admins.")
@friendly
def revoke(key_id: str, reason: str) -> None:
    """Revoke one of this node's old keys (rotate first to revoke the current one)."""
    _run(lambda: revoke_and_announce(key_id, reason))
    click.echo(f"Revoked {key_id}; peers are told.")
