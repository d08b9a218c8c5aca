"""Killing a worker mid-batch and restarting it loses nothing and does nothing twice.

These run real worker processes (tests/support/probe_worker.py) against the session's
database, SQLite or PostgreSQL, with the in-process (no broker) worker of `serve` and with
`groundswell worker`'s code on Redis and RabbitMQ. The probe handler writes one row per item
it processes into a table without a unique constraint, so a double run shows up as a
duplicate row.

The sweeper is what recovers a killed worker's claims (their leases lapse and it announces
them again), so the workers here sweep every fraction of a second instead of every 15 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from dramatiq.brokers.stub import StubBroker

from core.outbox import enqueue, transaction
from core.outbox.tables import OutboxItem
from core.tasks import broker as broker_module
from core.tasks.broker import BrokerUnavailable, check_broker
from tests.support.probe_worker import (
    PROBE_TOPIC,
    create_probe_table,
    drop_probe_table,
    probe_rows,
)
from tests.support.processes import (
    Background,
    Instance,
    base_environment,
    free_port,
    missing_service,
    redis_database,
)

REPO = Path(__file__).resolve().parents[2]
AMQP_URL = os.environ.get("GROUNDSWELL_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

ITEMS = 50
KILL_AFTER = 10  # items done before the kill: well into the run, far from its end
SWEEP_SECONDS = 0.3
# Startup, plus the run at ~0.1 s per item, plus waiting out the killed worker's leases.
RUN_TIMEOUT_S = 30.0

pytestmark = pytest.mark.slow


# The probe worker process


def worker_environment(broker_url: str = "") -> dict[str, str]:
    """The session's instance (data dir, database, public URL), and nothing else of ours."""
    env = base_environment()
    for name in ("GROUNDSWELL_DATA_DIR", "GROUNDSWELL_DATABASE_URL", "GROUNDSWELL_PUBLIC_URL"):
        env[name] = os.environ[name]
    env["GROUNDSWELL_LOG_LEVEL"] = "info"  # its log says when it is up, and shows any trouble
    if broker_url:
        env["GROUNDSWELL_BROKER_URL"] = broker_url
    return env


def start_probe_worker(mode: str, env: dict[str, str], logs: Path, name: str) -> Background:
    logs.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = logs / f"{name}.stdout", logs / f"{name}.stderr"
    command = [
        sys.executable,
        "-m",
        "tests.support.probe_worker",
        mode,
        "--threads",
        "2",
        "--sweep-interval",
        str(SWEEP_SECONDS),
    ]
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: killed as one
        )
    return Background(name, process, stdout_path, stderr_path, time.monotonic())


def kill(worker: Background) -> None:
    """SIGKILL: no cleanup, no goodbye, claims left behind as they are."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.process.wait(10)


async def kill_mid_batch(worker: Background, timeout: float = RUN_TIMEOUT_S) -> None:
    """SIGKILL while the worker holds a claim. It is frozen first (SIGSTOP), so what we read
    is exactly what the kill leaves behind; caught between two claims (a busy machine widens
    that gap), it is thawed and frozen again a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        os.killpg(worker.pid, signal.SIGSTOP)
        if await count("processing") > 0 or time.monotonic() > deadline:
            kill(worker)
            return
        os.killpg(worker.pid, signal.SIGCONT)
        await asyncio.sleep(0.005)


@contextlib.contextmanager
def stopped_at_exit(worker: Background) -> Iterator[Background]:
    try:
        yield worker
    finally:
        if worker.running():
            kill(worker)


async def count(status: str) -> int:
    """Probe items only: the worker's sweeper also queues periodic jobs of its own."""
    return await OutboxItem.count().where((OutboxItem.status == status) & (OutboxItem.topic == PROBE_TOPIC))


async def wait_until_done(at_least: int, worker: Background, timeout: float = RUN_TIMEOUT_S) -> int:
    """Poll until `at_least` items are done; fails early if the worker died."""
    deadline = time.monotonic() + timeout
    while True:
        done = await count("done")
        if done >= at_least:
            return done
        if not worker.running():
            raise AssertionError(f"the worker exited with {done}/{at_least} done\n{worker.describe()}")
        if time.monotonic() > deadline:
            rows = await OutboxItem.select(OutboxItem.status, OutboxItem.attempts, OutboxItem.last_error)
            states = Counter((r["status"], r["attempts"], r["last_error"][:80]) for r in rows)
            raise AssertionError(
                f"{done}/{at_least} done after {timeout}s: {dict(states)}\n{worker.describe()}"
            )
        await asyncio.sleep(0.05)


# Fixtures


@pytest.fixture
async def probe() -> AsyncIterator[None]:
    await create_probe_table()
    yield
    await drop_probe_table()


def reachable(url: str, what: str) -> str:
    try:
        check_broker(url, timeout=2.0)
    except BrokerUnavailable as exc:
        missing_service(f"{what} is not reachable: {exc}")
    return url


@contextlib.contextmanager
def announcing_through(url: str) -> Iterator[None]:
    """Make this (test) process announce work through the broker at `url`, as a web process
    configured with it does; afterwards put back the in-process stub broker if one was
    installed (the `client` fixture's lifespan installs it and leaves it for the session)."""
    had_stub = isinstance(broker_module.current_broker(), StubBroker)
    broker_module.uninstall()
    broker_module.install(url)
    try:
        yield
    finally:
        broker_module.uninstall()
        if had_stub:
            broker_module.install("")


@pytest.fixture
def broker_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """ "" for the in-process worker; for "redis", an empty numbered Redis database (so
    neither stale messages of earlier runs nor concurrent test runs get in the way)."""
    if request.param == "inprocess":
        yield ""
        return
    with redis_database() as url:
        reachable(url, "Redis")
        with announcing_through(url):
            yield url


# The specifications


@pytest.mark.parametrize("broker_url", ["inprocess", "redis"], indirect=True)
async def test_killing_a_worker_mid_batch_and_restarting_loses_nothing_and_does_nothing_twice(
    broker_url: str, probe: None, tmp_path: Path
) -> None:
    keys = [f"crash-{i:02d}" for i in range(ITEMS)]
    async with transaction():  # with a broker: one wake-up, sent after commit
        for key in keys:
            await enqueue(PROBE_TOPIC, key)
    mode = "broker" if broker_url else "inprocess"
    env = worker_environment(broker_url)

    with stopped_at_exit(start_probe_worker(mode, env, tmp_path, "first")) as first:
        done_before_kill = await wait_until_done(KILL_AFTER, first)
        await kill_mid_batch(first)
    claimed_when_killed = await count("processing")
    done_when_killed = await count("done")
    assert done_when_killed < ITEMS, "the worker finished before the kill; the test proves nothing"
    assert claimed_when_killed > 0, "the kill did not land mid-batch"
    assert done_when_killed >= done_before_kill

    with stopped_at_exit(start_probe_worker(mode, env, tmp_path, "second")) as second:
        await wait_until_done(ITEMS, second)
        assert second.stop() == 0, f"the restarted worker did not stop cleanly\n{second.describe()}"

    rows = await probe_rows()
    assert Counter(key for key, _ in rows) == Counter(keys), "an item was lost or processed twice"
    assert await count("done") == ITEMS
    by_process = Counter(pid for _, pid in rows)
    assert set(by_process) == {first.pid, second.pid}
    assert by_process[first.pid] == done_when_killed


async def test_a_worker_on_rabbitmq_processes_enqueued_work(probe: None, tmp_path: Path) -> None:
    """Announcements go through RabbitMQ both ways: the enqueuing process sends one per item,
    and the worker's sweeper, too, announces through the broker. Stale messages left in the
    queue by earlier runs only make the worker look at its outbox early: they are harmless."""
    url = reachable(AMQP_URL, "RabbitMQ")
    env = worker_environment(url)
    with stopped_at_exit(start_probe_worker("broker", env, tmp_path, "amqp")) as worker:
        worker.wait_for_output("worker started", timeout=20)
        keys = [f"amqp-{i}" for i in range(10)]
        with announcing_through(url):
            for key in keys:  # outside a transaction: one message each
                await enqueue(PROBE_TOPIC, key, {"seconds": 0})
        await wait_until_done(len(keys), worker, timeout=20)
        assert worker.stop() == 0, f"the worker did not stop cleanly\n{worker.describe()}"
    assert Counter(key for key, _ in await probe_rows()) == Counter(keys)
    assert "Traceback" not in worker.stderr


# `groundswell worker` refusing to start, in one line


def test_worker_without_a_broker_url_exits_with_one_readable_line(tmp_path: Path) -> None:
    result = Instance.create(tmp_path).run("worker")
    assert result.returncode != 0, result.describe()
    assert len(result.stderr_lines) == 1, result.describe()
    line = result.stderr_lines[0]
    assert line.startswith("groundswell: error: GROUNDSWELL_BROKER_URL is empty"), line
    assert "groundswell serve" in line  # says what to do instead
    assert "Traceback" not in result.stderr


def test_worker_with_an_unreachable_broker_exits_with_one_readable_line(tmp_path: Path) -> None:
    broker = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    result = Instance.create(tmp_path, BROKER_URL=broker).run("worker")
    assert result.returncode != 0, result.describe()
    assert len(result.stderr_lines) == 1, result.describe()
    assert result.stderr_lines[0].startswith(f"groundswell: error: broker at {broker} does not answer")
    assert "Traceback" not in result.stderr
