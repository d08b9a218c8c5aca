"""Campaign sending throughput against plain smtplib, and memory as the audience grows.

    python bench/mail.py [--quick] [--recipients N] [--database sqlite|postgres]

Seeds N members (default 100,000) and a mailing to all of them, starts a local aiosmtpd sink in
its own process that only counts messages, and then, in the same run:

- the baseline: plain smtplib on one connection sends N pre-rendered copies of real campaign
  messages (rendered by the engine beforehand, outside the timing) to the sink;
- the engine: a fresh process runs `send_now` (the audience resolved into delivery rows) and
  the real outbox sender until the mailing is sent — rendering, send-time checks, the pooled
  SMTP backend, a database write per message — first for N/10 recipients, then for N.

Prints messages/s for both, their ratio, and the engine process's peak RSS at N/10 and N (it
must stay flat: the sender streams batches, it never loads the audience). The last line is one
JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import secrets
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_BASE = "postgresql://postgres@127.0.0.1:5432"
SMALL_PREFIX, LARGE_PREFIX = "1", "2"  # postal codes: the N/10 run mails prefix "1"
BASELINE_DISTINCT = 500  # distinct pre-rendered messages the baseline cycles through


def log(message: str) -> None:
    print(message, flush=True)


# -- the sink -----------------------------------------------------------------------------------


def run_sink(port_value, count_value, ready) -> None:  # type: ignore[no-untyped-def]
    """An aiosmtpd server that accepts everything and counts messages (in its own process)."""
    import socket

    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            with count_value.get_lock():
                count_value.value += 1
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    port_value.value = port
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def wait_for_count(counter, target: int, timeout: float = 600.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while counter.value < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sink counted {counter.value} of {target} messages")
        time.sleep(0.01)


# -- seeding ------------------------------------------------------------------------------------


async def seed(recipients: int) -> dict[str, int]:
    """N members (a tenth with postal codes starting SMALL_PREFIX), one petition, two
    mailings: to that tenth and to everyone. No rate limit, no frequency cap."""
    from piccolo.engine.sqlite import SQLiteEngine

    from core.db import database, migrate
    from core.instance_settings import set_policy
    from core.mailings.service import create_mailing
    from core.petitions.service import PetitionInput, TargetInput, create_petition, submit_petition

    await migrate()
    await set_policy("mail_rate_per_second", 0)
    await set_policy("mail_frequency_cap", 0)
    small = max(1, recipients // 10)
    engine = database()
    if isinstance(engine, SQLiteEngine):
        import sqlite3

        connection = sqlite3.connect(engine.connection_kwargs["database"])
        with connection:
            connection.executemany(
                "INSERT INTO person (email, email_key, given_name, family_name, postal_code, locality,"
                " country, region, district, phone, subscription, consent_instance_email,"
                " consent_national, consent_share_with_creators, source, created_at, updated_at)"
                " VALUES (?, ?, ?, 'Example', ?, 'Springfield', '', 'North', '', '', 'subscribed', 1, 0, 0,"
                " 'bench', datetime('now'), datetime('now'))",
                (
                    (
                        f"m{i}@example.org",
                        f"m{i}@example.org",
                        f"Member{i}",
                        (SMALL_PREFIX if i < small else LARGE_PREFIX) + "0001",
                    )
                    for i in range(recipients)
                ),
            )
        connection.close()
    else:
        import asyncpg

        from core.settings import current_settings

        connection = await asyncpg.connect(current_settings().database_url)
        try:
            await connection.execute(
                "INSERT INTO person (email, email_key, given_name, family_name, postal_code, locality,"
                " region, subscription, source)"
                " SELECT 'm' || i || '@example.org', 'm' || i || '@example.org', 'Member' || i, 'Example',"
                " CASE WHEN i < $2 THEN $3 ELSE $4 END || '0001', 'Springfield', 'North',"
                " 'subscribed', 'bench'"
                " FROM generate_series(0, $1 - 1) AS i",
                recipients,
                small,
                SMALL_PREFIX,
                LARGE_PREFIX,
            )
            await connection.execute("ANALYZE")
        finally:
            await connection.close()
    petition = await create_petition(
        PetitionInput(
            title="Benchmark: reopen the footbridge",
            body="A petition used by the mail benchmark. " * 3,
            targets=[TargetInput(name="The Mayor")],
        ),
        creator_id=None,
    )
    await submit_petition(petition.id, trusted=True)
    body = (
        "Dear {{ given_name or 'friend' }},\n\nThe footbridge has been closed for two years. The council "
        "votes on **Monday**: [sign “{{ petition_title }}”]({{ petition_url }}) before then.\n\n"
        "Read [the background](https://example.org/footbridge) and share it with a neighbour.\n\n"
        "Thank you,\nThe Riverside team"
    )
    mailings = {}
    for name, audience in (("small", {"postal_prefix": SMALL_PREFIX}), ("large", {"all": True})):
        mailings[name] = await create_mailing(
            kind="members",
            author_login_id=None,
            petition_id=petition.id,
            subject="{{ given_name }}, the council votes on Monday",
            body=body,
            audience=audience,
            from_name="Riverside",
        )
    return mailings


async def prerender(mailing_id: int, count: int) -> list[tuple[str, str, bytes]]:
    """Real campaign messages for the baseline, rendered before it is timed."""
    from email import policy
    from email.utils import formataddr

    from core.mail.message import OutgoingMail, build_message
    from core.mailings.composing import composer_for, load_mailing
    from core.mailings.eligibility import batch_facts
    from core.settings import current_settings

    settings = current_settings()
    composer = await composer_for(await load_mailing(mailing_id))
    people = (await batch_facts(list(range(1, count + 1)))).people
    rendered = []
    for index, person in enumerate(people.values()):
        mail = composer.render(person, delivery_id=index + 1)
        message = build_message(
            OutgoingMail(
                to=formataddr((person["given_name"], person["email"])),
                subject=mail.subject,
                text=mail.text,
                html=mail.html,
                headers=mail.headers,
            ),
            sender=composer.sender,
            key=f"delivery:{index + 1}",
            domain=settings.public_host,
        )
        rendered.append((composer.sender, person["email"], message.as_bytes(policy=policy.SMTP)))
    return rendered


def baseline(port: int, messages: list[tuple[str, str, bytes]], total: int) -> None:
    client = smtplib.SMTP("127.0.0.1", port)
    try:
        for i in range(total):
            sender, recipient, raw = messages[i % len(messages)]
            client.sendmail(sender, [recipient], raw)
    finally:
        client.quit()


# -- the engine, in a fresh process -------------------------------------------------------------


async def engine_run(mailing_id: int) -> dict[str, float]:
    from core.db.engine import close_pool, start_pool
    from core.mail import close_backends
    from core.mailings.sending import TOPIC
    from core.mailings.service import get_mailing, send_now
    from core.outbox import drain

    await start_pool()
    started = time.perf_counter()
    recipients = await send_now(mailing_id)
    resolved = time.perf_counter() - started
    while (await get_mailing(mailing_id))["status"] != "sent":
        counts = await drain(TOPIC, time_budget=600)
        if not counts["done"] and not counts["more"]:
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    close_backends()
    await close_pool()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "recipients": recipients,
        "seconds": elapsed,
        "resolve_seconds": resolved,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


def run_engine_child(env: dict[str, str], mailing_id: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--engine-child", str(mailing_id)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the engine run failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--recipients", type=int, default=None, help="audience size (default 100,000)")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--engine-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.engine_child is not None:  # the measured engine process
        import core

        print(json.dumps(asyncio.run(engine_run(args.engine_child))), flush=True)
        return

    recipients = args.recipients or (2_000 if args.quick else 100_000)
    workdir = Path(tempfile.mkdtemp(prefix="gs-bench-mail-"))
    db_name = f"gs_bench_{secrets.token_hex(4)}"
    context = multiprocessing.get_context("spawn")
    port_value, count_value, ready = context.Value("i", 0), context.Value("q", 0), context.Event()
    sink = context.Process(target=run_sink, args=(port_value, count_value, ready), daemon=True)
    sink.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the SMTP sink did not start")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDSWELL_")}
        env.update(
            {
                "GROUNDSWELL_DATA_DIR": str(workdir),
                "GROUNDSWELL_PUBLIC_URL": "https://bench.example.org",
                "GROUNDSWELL_SMTP_URL": f"smtp://127.0.0.1:{port_value.value}",
                "GROUNDSWELL_LOG_LEVEL": "warning",
                "PYTHONPATH": str(ROOT),
            }
        )
        if args.database == "postgres":
            subprocess.run(
                ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c", f'CREATE DATABASE "{db_name}"'],
                check=True,
            )
            env["GROUNDSWELL_DATABASE_URL"] = f"{PG_BASE}/{db_name}"
        os.environ.update(env)
        import core  # noqa: F401  (after the environment is set: one process, one instance)

        log(f"seeding {recipients:,} members ({args.database})…")
        started = time.perf_counter()
        mailings = asyncio.run(seed(recipients))
        messages = asyncio.run(prerender(mailings["large"], min(BASELINE_DISTINCT, recipients)))
        log(f"  seeded in {time.perf_counter() - started:.1f}s")

        log(f"baseline: plain smtplib, {recipients:,} pre-rendered messages…")
        count_value.value = 0
        started = time.perf_counter()
        baseline(port_value.value, messages, recipients)
        wait_for_count(count_value, recipients)
        smtplib_rate = recipients / (time.perf_counter() - started)
        log(f"  {smtplib_rate:,.0f} messages/s")

        runs = {}
        for name in ("small", "large"):
            count_value.value = 0
            log(f"engine: mailing {name}…")
            runs[name] = run_engine_child(env, mailings[name])
            wait_for_count(count_value, int(runs[name]["recipients"]), timeout=30)
            if count_value.value != runs[name]["recipients"]:
                raise RuntimeError(
                    f"the sink got {count_value.value} messages for {runs[name]['recipients']}"
                )
            run = runs[name]
            rate = run["recipients"] / run["seconds"]
            log(
                f"  {run['recipients']:,.0f} recipients: {rate:,.0f} messages/s (resolved in "
                f"{run['resolve_seconds']:.2f}s, {run['cpu_seconds']:.1f}s CPU), "
                f"peak RSS {run['peak_rss_mb']:.0f} MB"
            )
        large = runs["large"]
        rate = large["recipients"] / large["seconds"]
        figures = {
            "bench": "mail",
            "database": args.database,
            "recipients": int(large["recipients"]),
            "messages_per_s": round(rate, 1),
            "smtplib_messages_per_s": round(smtplib_rate, 1),
            "ratio_vs_smtplib": round(rate / smtplib_rate, 3),
            "resolve_s": round(large["resolve_seconds"], 2),
            "peak_rss_mb": round(large["peak_rss_mb"], 1),
            "peak_rss_mb_at_tenth": round(runs["small"]["peak_rss_mb"], 1),
            "rss_growth_mb": round(large["peak_rss_mb"] - runs["small"]["peak_rss_mb"], 1),
        }
        print(json.dumps(figures), flush=True)
    finally:
        sink.terminate()
        sink.join(10)
        if args.database == "postgres":
            subprocess.run(
                [
                    "psql",
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-c",
                    f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)',
                ],
                check=False,
            )
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
