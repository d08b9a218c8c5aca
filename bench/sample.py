"""Drawing a boost's random sample of eligible members on PostgreSQL, against plain reads.

    python bench/sample.py [--quick] [--members N] [--sample K] [--repeat R]

Creates a temporary PostgreSQL database with N members (default 1,000,000; --quick: 100,000)
loaded by `generate_series` — 90 % subscribed, 70 % of those consented, 12 regions of unequal
size — one published petition signed by 2 % of them, and an earlier boost mailing to 5 % of
them sent within the frequency window, so the eligibility anti-joins have real work. Then, in
the same run, R times each with fresh seeds:

- the baseline: `SELECT id FROM person WHERE subscription = 'subscribed' LIMIT K`, a plain
  indexed read of K ids with no randomness and no eligibility;
- the engine: `core.boost.sampling.sample_eligible` for K members of the national audience, and
  for K members of one region (about 8 % of members);
- for scale, once: the naive `ORDER BY random() LIMIT K` over the eligible audience, and the
  exact `count_remaining` the runner does once per decision.

Prints medians and p90s; the last line is one JSON object with the figures. The goal is a
median under 500 ms for K = 1,000 of 1,000,000 members. The database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_BASE = "postgresql://postgres@127.0.0.1:5432"
GOAL_MS = 500.0


def log(message: str) -> None:
    print(message, flush=True)


def psql(sql: str) -> None:
    subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c", sql], check=True)


_SEED = """
INSERT INTO person (email, email_key, given_name, family_name, postal_code, locality, country,
                    region, district, phone, subscription, consent_instance_email,
                    consent_national, consent_share_with_creators, source, created_at, updated_at)
SELECT 'm' || i || '@example.org', 'm' || i || '@example.org', 'Member' || i, 'Example',
       lpad((i % 997)::text, 5, '0'), 'Springfield', 'US',
       'R' || least(floor(-ln(1 - random()) * 4)::int, 11), '', '',
       CASE WHEN random() < 0.9 THEN 'subscribed' ELSE 'unsubscribed' END,
       random() < 0.7, false, false, 'bench', now(), now()
FROM generate_series(1, $1) AS i
"""


async def seed(members: int) -> int:
    """Members, a petition with signers and an earlier boost mailing; returns the petition id."""
    import asyncpg

    from core.db import migrate
    from core.petitions.service import PetitionInput, TargetInput, create_petition, submit_petition
    from core.settings import current_settings

    await migrate()
    petition = await create_petition(
        PetitionInput(
            title="Fund the riverside footbridge repair",
            body="Reopen the footbridge so children can walk to school safely.",
            targets=[TargetInput(name="Jane Mayor", title="Mayor")],
        ),
        creator_id=None,
    )
    await submit_petition(petition.id, trusted=True)
    connection = await asyncpg.connect(current_settings().database_url)
    try:
        await connection.execute(_SEED, members)
        await connection.execute(
            "INSERT INTO signature (petition, person, comment, source, share_with_creator, status, ip, "
            "email_domain, created_at, confirmation_hash) "
            "SELECT $1, id, '', '', false, 'counted', '', 'example.org', now(), '' FROM person "
            "WHERE random() < 0.02",
            petition.id,
        )
        mailing = await connection.fetchval(
            "INSERT INTO mailing (kind, topic, subject, body, audience, status, source_code, test_fraction, "
            "test_window_seconds, winner, max_unsubscribe_rate, max_bounce_rate, halted_reason, recipients, "
            "created_at, updated_at, from_name, reply_to) "
            "VALUES ('boost', 'campaigns', 'Earlier', 'x', '{}', 'sent', 'bench-earlier', 0, 3600, '', 0.02, "
            "0.05, '', 0, now(), now(), '', '') RETURNING id"
        )
        await connection.execute(
            "INSERT INTO delivery (mailing, person, variant, status, attempts, available_at, lease_until, "
            "lease_token, error, created_at, sent_at) "
            "SELECT $1, id, '', 'sent', 1, 0, 0, '', '', now() - interval '2 days', "
            "now() - interval '2 days' "
            "FROM person WHERE random() < 0.05",
            mailing,
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return petition.id


async def timed(make, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for n in range(repeat):
        started = time.perf_counter()
        await make(n)
        times.append((time.perf_counter() - started) * 1000)
    return times


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


async def measure(petition_id: int, k: int, repeat: int) -> dict[str, float]:
    from core.boost.sampling import Caps, Scope, count_remaining, eligibility, sample_eligible
    from core.db.engine import close_pool, start_pool
    from core.people.tables import Person

    await start_pool()
    try:
        caps = Caps(now=datetime.now(UTC), gap_days=3, weekly_cap=3)
        national = Scope(petition_id, "national", "")
        regional = Scope(petition_id, "region", "R3")

        async def baseline(_: int) -> None:
            rows = await Person.raw("SELECT id FROM person WHERE subscription = 'subscribed' LIMIT {}", k)
            assert len(rows) == k

        sizes: list[int] = []

        async def engine(n: int) -> None:
            sample = await sample_eligible(national, k, caps, random.Random(1000 + n))
            sizes.append(len(sample.ids))

        regional_sizes: list[int] = []

        async def engine_regional(n: int) -> None:
            sample = await sample_eligible(regional, k, caps, random.Random(2000 + n))
            regional_sizes.append(len(sample.ids))

        await baseline(0)  # warm the cache for both sides alike
        await engine(0)
        sizes.clear()
        base = await timed(baseline, repeat)
        ours = await timed(engine, repeat)
        ours_regional = await timed(engine_regional, repeat)
        assert set(sizes) == {k} and set(regional_sizes) == {k}, (sizes, regional_sizes)

        where, params = eligibility(national, caps)
        started = time.perf_counter()
        await Person.raw(f"SELECT p.id FROM person p WHERE {where} ORDER BY random() LIMIT {k}", *params)
        naive_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        remaining = await count_remaining(national)
        count_ms = (time.perf_counter() - started) * 1000
    finally:
        await close_pool()
    return {
        "baseline_ms_median": statistics.median(base),
        "sample_ms_median": statistics.median(ours),
        "sample_ms_p90": p90(ours),
        "regional_sample_ms_median": statistics.median(ours_regional),
        "order_by_random_ms": naive_ms,
        "count_remaining_ms": count_ms,
        "eligible": remaining,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 members, under a minute")
    parser.add_argument("--members", type=int, default=None, help="members to load (default 1,000,000)")
    parser.add_argument("--sample", type=int, default=1000, help="sample size K")
    parser.add_argument("--repeat", type=int, default=None, help="timed repetitions per measurement")
    args = parser.parse_args()
    members = args.members or (100_000 if args.quick else 1_000_000)
    repeat = args.repeat or (5 if args.quick else 11)

    db_name = f"gs_bench_sample_{secrets.token_hex(4)}"
    workdir = Path(tempfile.mkdtemp(prefix="gs-bench-sample-"))
    for name in [n for n in os.environ if n.startswith("GROUNDSWELL_")]:
        del os.environ[name]
    os.environ.update(
        {
            "GROUNDSWELL_DATA_DIR": str(workdir),
            "GROUNDSWELL_DATABASE_URL": f"{PG_BASE}/{db_name}",
            "GROUNDSWELL_LOG_LEVEL": "warning",
        }
    )
    psql(f'CREATE DATABASE "{db_name}"')
    try:
        import core  # noqa: F401  (after the environment is set: one process, one instance)

        log(f"loading {members:,} members into PostgreSQL…")
        started = time.perf_counter()
        petition_id = asyncio.run(seed(members))
        log(f"  loaded in {time.perf_counter() - started:.1f}s")
        figures = asyncio.run(measure(petition_id, args.sample, repeat))
        k = f"{args.sample:,}"
        log(f"baseline (plain indexed LIMIT {k}): {figures['baseline_ms_median']:.1f} ms median")
        log(
            f"engine sample of {k} eligible (national): {figures['sample_ms_median']:.1f} ms median, "
            f"{figures['sample_ms_p90']:.1f} ms p90"
        )
        regional = figures["regional_sample_ms_median"]
        log(f"engine sample of {k} eligible (one region): {regional:.1f} ms median")
        log(f"ORDER BY random() over the eligible audience, once: {figures['order_by_random_ms']:.0f} ms")
        log(
            f"exact count of the remaining audience ({figures['eligible']:,}), once: "
            f"{figures['count_remaining_ms']:.0f} ms"
        )
        ratio = figures["sample_ms_median"] / max(figures["baseline_ms_median"], 0.01)
        result = {
            "bench": "sample",
            "members": members,
            "sample": args.sample,
            "eligible": figures["eligible"],
            "sample_ms_median": round(figures["sample_ms_median"], 1),
            "sample_ms_p90": round(figures["sample_ms_p90"], 1),
            "regional_sample_ms_median": round(figures["regional_sample_ms_median"], 1),
            "baseline_ms_median": round(figures["baseline_ms_median"], 1),
            "ratio_vs_baseline": round(ratio, 1),
            "order_by_random_ms": round(figures["order_by_random_ms"], 1),
            "count_remaining_ms": round(figures["count_remaining_ms"], 1),
            "goal_ms": GOAL_MS,
            "meets_goal": figures["sample_ms_median"] < GOAL_MS,
        }
        print(json.dumps(result))
    finally:
        psql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
