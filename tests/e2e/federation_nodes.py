"""Federation nodes for end-to-end tests: each a real `groundswell serve` process with its own
data dir (keys) and its own database, paired with the CLI exactly as docs/federation.md §13
tells an operator.

On the SQLite pass every node has its own file; when GROUNDSWELL_TEST_DATABASE_URL names a
PostgreSQL server, every node gets a fresh database of its own on it (migrated with
`groundswell migrate`, as an operator would) that is dropped when the node is closed.

    with federation_of("hub", "instance", "instance", root=tmp_path) as (hub, one, two):
        pair(hub, one)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import (
    Instance,
    Server,
    drop_postgres_database,
    free_port,
    in_thread,
    postgres_database,
    wait_until,
)

ADMIN = "ada@example.org"


def on_postgres() -> bool:
    return bool(os.environ.get("GROUNDSWELL_TEST_DATABASE_URL", "").strip())


class Node:
    """One node: its directory, settings, database and (while `serving`) its server.

    `url` is its origin (GROUNDSWELL_PUBLIC_URL: what peers call and signatures cover);
    `listen_url` is where `serve` listens. They are the same unless `public_url` puts the node
    behind a reverse proxy (tests/support/fault_proxy.py)."""

    def __init__(
        self, root: Path, role: str, *, database_url: str = "", public_url: str = "", **settings: str
    ) -> None:
        self.role = role
        self.port = free_port()
        self.listen_url = f"http://127.0.0.1:{self.port}"
        self.url = public_url or self.listen_url
        if database_url:
            settings["DATABASE_URL"] = database_url
        self.database_url = database_url
        self.instance = Instance.create(root, ROLE=role, PUBLIC_URL=self.url, LOG_LEVEL="info", **settings)
        self.server: Server | None = None
        self.token = ""
        if database_url:
            self.run_ok("migrate")

    def run(self, *args: str, **kwargs: Any):
        return self.instance.run(*args, **kwargs)

    def run_ok(self, *args: str, **kwargs: Any):
        return self.instance.run_ok(*args, **kwargs)

    def use_environment(self, env: dict[str, str]) -> None:
        """Add variables to every later command and `serve` of this node, including those the
        helpers here run (a shared fake clock must reach `peers`, `pair` and the server alike)."""
        self.instance.env.update(env)

    @contextlib.contextmanager
    def serving(self, env: dict[str, str] | None = None) -> Iterator[Server]:
        """`groundswell serve` on this node's fixed port (its origin is pinned by peers)."""
        process, out, err, started = self.instance._start(
            "serve", ["serve", "--host", "127.0.0.1", "--port", str(self.port)], env
        )
        server = Server("groundswell serve", process, out, err, started, port=self.port)
        try:
            server.wait_until_answers("/readyz")
            self.server = server
            yield server
        finally:
            self.server = None
            server.stop()

    def keys(self) -> dict:
        return json.loads(self.run_ok("federation", "keys", "--json").stdout)

    @property
    def node_id(self) -> str:
        return self.keys()["node_id"]

    def peers(self) -> list[dict]:
        return json.loads(self.run_ok("federation", "peers", "--json").stdout)

    def peer(self, node_id: str) -> dict:
        return {p["node_id"]: p for p in self.peers()}[node_id]

    def api(self) -> httpx.Client:
        """An OSDI API client with an admin's token."""
        if not self.token:
            self.run_ok("admin", "create", ADMIN)
            self.token = self.run_ok("token", "create", ADMIN).last_line
        return httpx.Client(base_url=self.listen_url, headers={"OSDI-API-Token": self.token}, timeout=10)

    def sql(self, statement: str) -> list[tuple]:
        """Run one SQL statement (no parameters) against this node's database: for setting up
        what a test cannot wait for, such as an invite that expired three days ago."""
        if self.database_url:
            return in_thread(_postgres_sql, self.database_url, statement)
        path = self.instance.data_dir / "groundswell.sqlite3"
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
            rows = db.execute(statement).fetchall()
            db.commit()
            return rows


def _postgres_sql(url: str, statement: str) -> list[tuple]:
    import asyncpg

    async def go() -> list[tuple]:
        connection = await asyncpg.connect(url)
        try:
            return [tuple(row) for row in await connection.fetch(statement)]
        finally:
            await connection.close()

    return asyncio.run(go())


@contextlib.contextmanager
def node_database() -> Iterator[str]:
    """A database URL of its own for one node on PostgreSQL; "" (its own SQLite file) otherwise."""
    if not on_postgres():
        yield ""
        return
    with postgres_database("gs_fed") as url:
        try:
            yield url
        finally:
            with contextlib.suppress(Exception):
                drop_postgres_database(url)


@contextlib.contextmanager
def federation_of(*roles: str, root: Path, **settings: str) -> Iterator[list[Node]]:
    """Nodes with the given roles, each serving on loopback with its own database."""
    with contextlib.ExitStack() as stack:
        nodes = []
        for n, role in enumerate(roles):
            url = stack.enter_context(node_database())
            nodes.append(Node(root / f"{role}-{n}", role, database_url=url, **settings))
        for node in nodes:
            stack.enter_context(node.serving())
        yield nodes


def join_command(invite_output: str) -> list[str]:
    """The `groundswell federation join …` line `invite` prints last, as arguments."""
    line = invite_output.strip().splitlines()[-1]
    assert line.startswith("groundswell federation join "), invite_output
    return shlex.split(line)[1:]


def pair(hub: Node, node: Node) -> str:
    """Invite, join, approve: returns the instance's node id once both sides say active."""
    invite = hub.run_ok("federation", "invite", "--origin", node.url)
    node.run_ok(*join_command(invite.stdout))
    node_id = node.node_id
    assert hub.peer(node_id)["status"] == "pending"
    assert {(p["origin"], p["status"]) for p in node.peers()} == {(hub.url, "pending")}
    hub.run_ok("federation", "approve", node_id)
    wait_until(lambda: node.peers()[0]["status"] == "active", timeout=30, interval=0.5)
    return node_id


def hub_petitions(hub: Node) -> list[dict]:
    """The petitions the hub's OSDI API lists (its own and federated copies)."""
    with hub.api() as api:
        return api.get("/api/v1/petitions", params={"per_page": 100}).json()["_embedded"]["osdi:petitions"]


def create_petition(node: Node, title: str, signatures: int = 0) -> str:
    """A published petition on `node` with `signatures` signers, through the OSDI API; returns
    its local id."""
    with node.api() as api:
        response = api.post(
            "/api/v1/petitions",
            json={
                "title": title,
                "petition_text": "We want this done this year, for everyone in the district.",
                "target": [{"name": "The Council", "title": "City council"}],
            },
        )
        assert response.status_code == 201, response.text
        pid = response.json()["identifiers"][0].split(":")[-1]
        for n in range(signatures):
            signed = api.post(
                f"/api/v1/petitions/{pid}/record_signature_helper",
                json={
                    "person": {
                        "email_addresses": [{"address": f"s{n}.{pid}@example.org"}],
                        "given_name": f"S{n}",
                    }
                },
            )
            assert signed.status_code in (200, 201), signed.text
    return pid
