"""A real worker process with one probe handler, for tests that kill workers mid-batch.

Run as `python -m tests.support.probe_worker inprocess|broker`. It reads its settings from the
environment like every groundswell process, registers `record_effect` for PROBE_TOPIC and then
runs the real worker code:

- `inprocess`: what `groundswell serve` does without a broker (a Dramatiq worker on a
  StubBroker plus the outbox sweeper, both on the process's database loop);
- `broker`: `core.tasks.worker.run_worker_process`, the body of `groundswell worker`.

The probe handler writes one row per processed item (its key and this process's PID) into
PROBE_TABLE. That table deliberately has no unique constraint: processing an item twice must
show up as a duplicate row, not be masked as a constraint error that looks like a retry.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from core.outbox import OutboxWork, handler
from core.outbox.tables import OutboxItem

PROBE_TOPIC = "probe.effect"
PROBE_TABLE = "outbox_probe"
# Short enough that work claimed by a killed worker comes back within a test's patience.
LEASE_SECONDS = 2.0
BATCH_SIZE = 10
# Per item, so that a run takes a few seconds and a kill lands in the middle of a batch.
ITEM_SECONDS = 0.1
SWEEP_SECONDS = 0.5


async def create_probe_table() -> None:
    """The probe table, created with raw SQL that SQLite and PostgreSQL both accept."""
    await OutboxItem.raw(
        f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (item_key VARCHAR(300) NOT NULL, pid INTEGER NOT NULL)"
    )


async def drop_probe_table() -> None:
    await OutboxItem.raw(f"DROP TABLE IF EXISTS {PROBE_TABLE}")


async def record_probe(key: str) -> None:
    """One row saying "this process did the item's database effect"."""
    await OutboxItem.raw(f"INSERT INTO {PROBE_TABLE} (item_key, pid) VALUES ({{}}, {{}})", key, os.getpid())


async def probe_rows() -> list[tuple[str, int]]:
    rows = await OutboxItem.raw(f"SELECT item_key, pid FROM {PROBE_TABLE}")
    return [(row["item_key"], int(row["pid"])) for row in rows]


@handler(PROBE_TOPIC, batch_size=BATCH_SIZE, lease_seconds=LEASE_SECONDS, max_attempts=100, backoff_base=0.5)
async def record_effect(work: OutboxWork) -> None:
    """Leave one probe row, then take a little time: a kill then most likely lands after the
    effect and before the commit that marks the item done, the moment that matters."""
    await record_probe(work.key)
    await asyncio.sleep(float(work.payload.get("seconds", ITEM_SECONDS)))


async def run_inprocess(threads: int, sweep_interval: float) -> None:
    """The `background` lifespan of core.web.app with no broker, minus the web server: the
    same core.tasks calls in the same order, with a sweep interval a test can wait for."""
    from core.db.engine import close_pool, start_pool
    from core.tasks import broker, event_loop
    from core.tasks.worker import load_handlers, start_dramatiq_worker, sweep_forever

    event_loop.adopt(asyncio.get_running_loop())
    await start_pool()
    load_handlers()
    broker.install("")
    worker = start_dramatiq_worker(threads)
    sweeper = asyncio.ensure_future(sweep_forever(sweep_interval))
    # SIGTERM stops cleanly, like uvicorn does for `serve`; SIGKILL is what the tests use.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, sweeper.cancel)
    try:
        await sweeper
    except asyncio.CancelledError:
        pass
    finally:
        await asyncio.to_thread(worker.stop)
        await close_pool()
        event_loop.release()
        broker.uninstall()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.probe_worker")
    parser.add_argument("mode", choices=["inprocess", "broker"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sweep-interval", type=float, default=SWEEP_SECONDS)
    args = parser.parse_args(argv)

    from core.cli.logs import configure_logging
    from core.settings import current_settings

    settings = current_settings()
    configure_logging(settings.log_level)
    asyncio.run(create_probe_table())
    if args.mode == "inprocess":
        if settings.has_broker:
            print("probe_worker: inprocess mode wants no GROUNDSWELL_BROKER_URL", file=sys.stderr)
            return 2
        asyncio.run(run_inprocess(args.threads, args.sweep_interval))
        return 0
    if not settings.has_broker:
        print("probe_worker: broker mode needs GROUNDSWELL_BROKER_URL", file=sys.stderr)
        return 2
    from core.tasks.worker import run_worker_process

    run_worker_process(settings.broker_url, args.threads, sweep_interval=args.sweep_interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
