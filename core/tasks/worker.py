"""Running the workers: inside `serve` (no broker) or as `groundswell worker` (with one)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import threading

import dramatiq

from core.db.engine import close_pool, start_pool
from core.outbox.periodic import enqueue_due_jobs
from core.outbox.processing import due_topics
from core.tasks import broker as broker_module
from core.tasks import event_loop

log = logging.getLogger("groundswell.worker")

SWEEP_INTERVAL_S = 15.0

# Modules whose import registers core's outbox handlers.
CORE_HANDLER_MODULES = (
    "core.mail.outbox",
    "core.outbox.maintenance",
    "core.petitions.stats",
    "core.accounts.cleanup",
    "core.mailings.jobs",
    "core.boost.runner",
)


def load_handlers() -> None:
    """Import every module that registers outbox handlers: core's, then enabled plugins'
    (those that run after `core.plugins.host.activate()`)."""
    from core.plugins.tasks import load_plugin_handlers

    for name in CORE_HANDLER_MODULES:
        importlib.import_module(name)
    load_plugin_handlers()


async def sweep_once() -> list[str]:
    await enqueue_due_jobs()
    topics = await due_topics()
    for topic in topics:
        broker_module.notify(topic)
    return topics


async def sweep_forever(interval: float = SWEEP_INTERVAL_S) -> None:
    """Re-announce due or abandoned work, so a lost message or a killed worker loses nothing."""
    while True:
        try:
            await sweep_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be briefly away; try again next round
            log.warning("outbox sweep failed: %s", exc)
        await asyncio.sleep(interval)


def start_dramatiq_worker(threads: int, *, poll_ms: int = 250) -> dramatiq.Worker:
    """`poll_ms` bounds how long an idle consumer waits for a message, and so how long
    stopping takes: the in-process worker of `serve` uses a short one, since stopping it is
    part of every shutdown (and of every test that starts the app)."""
    broker = broker_module.current_broker()
    if broker is None:
        raise RuntimeError("install the broker before starting a worker")
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=poll_ms)
    worker.start()
    return worker


def run_worker_process(broker_url: str, threads: int, sweep_interval: float = SWEEP_INTERVAL_S) -> None:
    """The body of `groundswell worker`: consume until SIGTERM/SIGINT, then stop cleanly."""
    from core.plugins.host import activate as activate_plugins

    broker_module.install(broker_url)
    loop = event_loop.start_thread()
    asyncio.run_coroutine_threadsafe(start_pool(), loop).result()
    # Which plugins run needs the database (admin switches, migrations); their handlers
    # are imported only then, and after the broker is installed.
    asyncio.run_coroutine_threadsafe(activate_plugins(), loop).result()
    load_handlers()
    sweeper = asyncio.run_coroutine_threadsafe(sweep_forever(sweep_interval), loop)
    worker = start_dramatiq_worker(threads)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("worker started: %d threads, broker %s", threads, type(worker.broker).__name__)
    try:
        stop.wait()
    finally:
        log.info("worker stopping")
        worker.stop()
        sweeper.cancel()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close_pool(), loop).result(timeout=5)
        broker_module.uninstall()
