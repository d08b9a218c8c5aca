"""Killing a worker in the middle of a mailing and starting another: everyone gets the email,
and nobody gets it twice.

A real worker process (the embedded in-process worker, tests/support/probe_worker.py) sends
to a real SMTP server on loopback. The kill is deterministic: the server holds the K-th
message at DATA until the test has SIGKILLed the worker, so the worker dies with K-1 messages
accepted and marked, one in flight (never accepted), and the rest of its batch claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.mailings.sending import TOPIC
from core.mailings.service import create_mailing, send_now
from core.mailings.tables import Delivery, Mailing
from core.outbox.tables import OutboxItem
from tests.core.mailings.conftest import add_members, statuses
from tests.support.probe_worker import drop_probe_table
from tests.support.processes import Background, base_environment
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("unlimited")]

REPO = Path(__file__).resolve().parents[3]
RECIPIENTS = 30
STALL_AT = 12  # the message held at DATA: well into the batch, far from its end
TIMEOUT_S = 40.0


class StallingHandler:
    """Wraps the test server's handler: the STALL_AT-th DATA waits until released, then is
    refused (its client is dead by then); every other message is handled as usual."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.data_seen = 0
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, *args: Any) -> str:
        return await self.inner.handle_RCPT(*args)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_seen += 1
        if self.data_seen == STALL_AT:
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            return "451 4.3.0 Try again later"
        return await self.inner.handle_DATA(server, session, envelope)


def start_worker(smtp_url: str, logs: Path, name: str) -> Background:
    env = base_environment()
    for variable in ("GROUNDSWELL_DATA_DIR", "GROUNDSWELL_DATABASE_URL", "GROUNDSWELL_PUBLIC_URL"):
        env[variable] = os.environ[variable]
    env["GROUNDSWELL_SMTP_URL"] = smtp_url
    env["GROUNDSWELL_LOG_LEVEL"] = "info"
    logs.mkdir(parents=True, exist_ok=True)
    out, err = logs / f"{name}.stdout", logs / f"{name}.stderr"
    command = [sys.executable, "-m", "tests.support.probe_worker", "inprocess", "--sweep-interval", "0.3"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
    return Background(name, process, out, err, time.monotonic())


def kill(worker: Background) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.process.wait(10)


async def wait_until(condition: Any, worker: Background, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not await condition():
        if not worker.running():
            raise AssertionError(f"the worker exited before {what}\n{worker.describe()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {TIMEOUT_S}s\n{worker.describe()}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def cleanup_probe() -> AsyncIterator[None]:
    yield
    await drop_probe_table()


async def test_a_worker_killed_mid_send_leaves_nobody_unmailed_and_nobody_mailed_twice(
    tmp_path: Path, cleanup_probe: None
) -> None:
    await add_members(RECIPIENTS)
    mailing_id = await create_mailing(
        kind="members", author_login_id=None, subject="Hello {{ given_name }}", body="News.",
        audience={"all": True},
    )  # fmt: skip
    server = SmtpServer().start()
    stalling = StallingHandler(server._controller.handler)
    server._controller.handler = stalling  # used for every connection from now on
    first = second = None
    try:
        await send_now(mailing_id)
        first = start_worker(server.url(), tmp_path, "first")

        async def stalled() -> bool:
            return stalling.stalled.is_set()

        await wait_until(stalled, first, "message held at DATA")
        kill(first)
        stalling.release.set()

        assert len(server.messages) == STALL_AT - 1
        after_kill = await statuses(mailing_id)
        assert after_kill["sent"] == STALL_AT - 1  # each marked as soon as it was accepted
        assert after_kill["sending"] == RECIPIENTS - (STALL_AT - 1)  # claimed, in flight or not started

        # Pretend the killed worker's leases lapsed (they would, in two minutes).
        await Delivery.update({Delivery.lease_until: 0.0}).where(Delivery.status == "sending")
        await OutboxItem.update({OutboxItem.lease_until: 0.0}).where(
            (OutboxItem.status == "processing") & (OutboxItem.topic == TOPIC)
        )
        second = start_worker(server.url(), tmp_path, "second")

        async def finished() -> bool:
            row = await Mailing.select(Mailing.status).where(Mailing.id == mailing_id).first()
            return row["status"] == "sent"

        await wait_until(finished, second, "finished mailing")
        received = Counter(message.recipients[0] for message in server.messages)
        assert received == Counter(f"member{n}@example.org" for n in range(RECIPIENTS))
        assert await statuses(mailing_id) == {"sent": RECIPIENTS}
    finally:
        stalling.release.set()
        for worker in (first, second):
            if worker is not None and worker.running():
                kill(worker)
        server.stop()
