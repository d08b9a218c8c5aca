"""Signing throughput against a bare Litestar endpoint, and a big petition's page render time.

    python bench/sign.py [--quick] [--database sqlite|postgres] [--clients N] [--duration S]

Starts the app under uvicorn (the server `groundswell serve` uses) with --workers, drives the
sign form with concurrent keep-alive clients, then drives a bare Litestar endpoint that parses
the same form under the same server and settings, in the same run. Prints signatures/s, p50/p99
latency and the ratio to the bare endpoint, and the render time of a petition page with many
signatures (1,000,000 by default). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402

PG_BASE = "postgresql://postgres@127.0.0.1:5432"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(message, flush=True)


@contextmanager
def server(target: str, env: dict[str, str], port: int, workers: int, factory: bool):
    # Signers come through a (simulated) trusted proxy with distinct addresses, as real
    # signers do; from one address, per-address rate limits would refuse almost everything.
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--proxy-headers",
        "--forwarded-allow-ips",
        "127.0.0.1",
    ]
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server {target} did not start") from None
                time.sleep(0.1)
        time.sleep(0.5 * workers)  # let every worker finish its start-up
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def create_pg_database(name: str) -> str:
    subprocess.run(
        ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c", f'CREATE DATABASE "{name}"'], check=True
    )
    return f"{PG_BASE}/{name}"


def drop_pg_database(name: str) -> None:
    subprocess.run(
        [
            "psql",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-c",
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        ],
        check=False,
    )


async def seed(petition_signatures: int) -> tuple[str, int, str]:
    """Two published petitions: one to sign during the run, one with many signatures."""
    from core.db import migrate
    from core.petitions.service import PetitionInput, TargetInput, create_petition, submit_petition

    await migrate()
    made = []
    for title in ("Benchmark: fix the footbridge", "Benchmark: a very popular petition"):
        petition = await create_petition(
            PetitionInput(
                title=title,
                body="A petition used by the signing benchmark. " * 3,
                targets=[TargetInput(name="The Mayor")],
                goal=2_000_000,
            ),
            creator_id=None,
        )
        made.append(await submit_petition(petition.id, trusted=True))
    await bulk_signatures(made[1].id, petition_signatures)
    return made[0].slug, made[0].id, made[1].slug


async def bulk_signatures(petition_id: int, count: int) -> None:
    """Insert `count` members and their signatures directly (the fast path, not the one measured)."""
    from piccolo.engine.sqlite import SQLiteEngine

    from core.db import database
    from core.petitions.tables import SignatureCount

    engine = database()
    batch = 50_000
    if isinstance(engine, SQLiteEngine):
        import sqlite3

        connection = sqlite3.connect(engine.connection_kwargs["database"])
        with connection:
            for start in range(0, count, batch):
                rows = range(start, min(count, start + batch))
                connection.executemany(
                    "INSERT INTO person (email, email_key, given_name, family_name, postal_code, locality,"
                    " country, region, district, phone, subscription, consent_instance_email,"
                    " consent_national, consent_share_with_creators, source, created_at, updated_at)"
                    " VALUES (?, ?, ?, '', 'AB1 2CD', '', '', 'North', '', '', 'subscribed', 0, 0, 0,"
                    " 'bench', datetime('now'), datetime('now'))",
                    ((f"b{i}@example.org", f"b{i}@example.org", f"Signer{i}") for i in rows),
                )
                connection.execute(
                    "INSERT INTO signature (petition, person, comment, source, share_with_creator, status,"
                    " ip, email_domain, created_at, confirmation_hash)"
                    " SELECT ?, id, '', '', 0, 'counted', '', 'example.org', datetime('now'), ''"
                    " FROM person WHERE email_key LIKE 'b%@example.org' AND id > "
                    " COALESCE((SELECT MAX(person) FROM signature WHERE petition = ?), 0)",
                    (petition_id, petition_id),
                )
        connection.close()
    else:
        import asyncpg

        from core.settings import current_settings

        connection = await asyncpg.connect(current_settings().database_url)
        try:
            await connection.execute(
                "INSERT INTO person (email, email_key, given_name, postal_code, region, subscription, source)"
                " SELECT 'b' || i || '@example.org', 'b' || i || '@example.org', 'Signer' || i,"
                " 'AB1 2CD', 'North', 'subscribed', 'bench' FROM generate_series(0, $1 - 1) AS i",
                count,
            )
            await connection.execute(
                "INSERT INTO signature (petition, person, status, email_domain)"
                " SELECT $1, id, 'counted', 'example.org' FROM person WHERE source = 'bench'",
                petition_id,
            )
            await connection.execute("ANALYZE")
        finally:
            await connection.close()
    await SignatureCount.raw(
        "INSERT INTO signature_count (petition, shard, count) VALUES ({}, 0, {})", petition_id, count
    )


def fetch(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        cookie = response.headers.get("set-cookie", "")
        return response.read().decode(), cookie


def page_render_ms(port: int, slug: str, repeats: int) -> float:
    url = f"http://127.0.0.1:{port}/p/{slug}"
    fetch(url)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fetch(url)
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[len(times) // 2]


def sign_requests(port: int, slug: str):
    html, cookie = fetch(f"http://127.0.0.1:{port}/p/{slug}")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', html).group(1)
    csrf_cookie = re.search(r"gs_csrf=([^;]+)", cookie).group(1)
    run_id = secrets.token_hex(3)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"gs_csrf={csrf_cookie}"}

    def make(i: int) -> bytes:
        body = urlencode(
            {
                "_csrf_token": token,
                "name": f"Bench Signer {i}",
                "email": f"s{run_id}-{i}@example.org",
                "postal_code": "AB1 2CD",
                "keep_updated": "1",
            }
        ).encode()
        # 198.18.0.0/15 is reserved for benchmarks (RFC 2544): never a real host.
        forwarded = {**headers, "X-Forwarded-For": f"198.18.{(i // 250) % 256}.{i % 250 + 1}"}
        return loadgen.http_request("POST", f"/p/{slug}/sign", f"127.0.0.1:{port}", body, forwarded)

    return make


def helper_requests(port: int, petition_id: int):
    """The OSDI record_signature_helper, as an embedded form on another site would call it."""
    run_id = secrets.token_hex(3)
    path = f"/api/v1/petitions/{petition_id}/record_signature_helper"

    def make(i: int) -> bytes:
        body = json.dumps(
            {
                "person": {
                    "given_name": "Bench",
                    "family_name": f"Helper {i}",
                    "email_addresses": [{"address": f"h{run_id}-{i}@example.org"}],
                    "postal_addresses": [{"postal_code": "AB1 2CD"}],
                },
                "referrer_data": {"source": "bench"},
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Forwarded-For": f"198.19.{(i // 250) % 256}.{i % 250 + 1}",
        }
        return loadgen.http_request("POST", path, f"127.0.0.1:{port}", body, headers)

    return make


def bare_requests(port: int):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def make(i: int) -> bytes:
        body = urlencode(
            {
                "_csrf_token": "x" * 40,
                "name": f"Bench Signer {i}",
                "email": f"s-{i}@example.org",
                "postal_code": "AB1 2CD",
                "keep_updated": "1",
            }
        ).encode()
        return loadgen.http_request("POST", "/bare", f"127.0.0.1:{port}", body, headers)

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--clients", type=int, default=None, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=None, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--page-signatures",
        type=int,
        default=None,
        help="signatures on the petition whose page is timed (default 1,000,000)",
    )
    args = parser.parse_args()
    clients = args.clients or (16 if args.quick else 64)
    duration = args.duration or (5.0 if args.quick else 20.0)
    page_signatures = args.page_signatures or (20_000 if args.quick else 1_000_000)

    workdir = Path(tempfile.mkdtemp(prefix="gs-bench-sign-"))
    db_name = f"gs_bench_{secrets.token_hex(4)}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDSWELL_")}
    env.update(
        {
            "GROUNDSWELL_DATA_DIR": str(workdir),
            "GROUNDSWELL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "GROUNDSWELL_LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
    )
    try:
        if args.database == "postgres":
            env["GROUNDSWELL_DATABASE_URL"] = create_pg_database(db_name)
        os.environ.update(env)
        import core  # noqa: F401  (after the environment is set: one process, one instance)

        log(f"seeding ({args.database}, {page_signatures:,} signatures on the big petition)…")
        started = time.perf_counter()
        slug, petition_id, big_slug = asyncio.run(seed(page_signatures))
        log(f"  seeded in {time.perf_counter() - started:.1f}s")

        with server("core.web.app:create_app", env, port, args.workers, factory=True):
            page_ms = page_render_ms(port, big_slug, 10 if args.quick else 30)
            log(f"petition page with {page_signatures:,} signatures: {page_ms:.1f} ms (median)")
            signing = asyncio.run(
                loadgen.run("127.0.0.1", port, sign_requests(port, slug), clients=clients, duration=duration)
            )
            helper = asyncio.run(
                loadgen.run(
                    "127.0.0.1", port, helper_requests(port, petition_id), clients=clients, duration=duration
                )
            )
        ok = signing.statuses.get(200, 0)
        log(
            f"sign form: {ok / duration:,.0f} signatures/s, p50 {signing.p50:.1f} ms, "
            f"p99 {signing.percentile(99):.1f} ms, statuses {signing.statuses}, errors {signing.errors}"
        )
        helper_ok = helper.statuses.get(200, 0) + helper.statuses.get(201, 0)
        log(
            f"signing helper (API): {helper_ok / duration:,.0f} signatures/s, p50 {helper.p50:.1f} ms, "
            f"p99 {helper.percentile(99):.1f} ms, statuses {helper.statuses}, errors {helper.errors}"
        )

        bare_port = free_port()
        with server("bench.bare_app:app", env, bare_port, args.workers, factory=False):
            bare = asyncio.run(
                loadgen.run(
                    "127.0.0.1", bare_port, bare_requests(bare_port), clients=clients, duration=duration
                )
            )
        log(
            f"bare Litestar: {bare.rate:,.0f} requests/s, p50 {bare.p50:.1f} ms, "
            f"p99 {bare.percentile(99):.1f} ms"
        )
        figures = {
            "bench": "sign",
            "database": args.database,
            "workers": args.workers,
            "clients": clients,
            "signatures_per_s": round(ok / duration, 1),
            "bare_requests_per_s": round(bare.rate, 1),
            "ratio_vs_bare": round((ok / duration) / bare.rate, 3) if bare.rate else None,
            "p50_ms": round(signing.p50, 1),
            "p99_ms": round(signing.percentile(99), 1),
            "non_200": sum(n for s, n in signing.statuses.items() if s != 200) + signing.errors,
            "helper_signatures_per_s": round(helper_ok / duration, 1),
            "helper_ratio_vs_bare": round((helper_ok / duration) / bare.rate, 3) if bare.rate else None,
            "helper_p99_ms": round(helper.percentile(99), 1),
            "page_signatures": page_signatures,
            "page_ms": round(page_ms, 1),
        }
        print(json.dumps(figures))
    finally:
        if args.database == "postgres":
            drop_pg_database(db_name)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
