"""A hub offline for three simulated days, then back (issue 6), with the hub and the instance
each its own `groundswell serve` process and database, talking real HTTP on loopback.

Simulated time is a real wall clock shared by the processes: libfaketime, preloaded into
every node process and every command run against a node, reads one offset file, so the nodes
agree to the second (request signatures stay inside the ±30 s window) while the test moves
`time.time()` forward by rewriting the file. The monotonic clock is left alone, so asyncio and
uvicorn timers keep real time. Backoff (`next_attempt_at`), signatures, expiry and periodic
jobs all follow the wall clock, so they see the days pass.

What is specified:
- while the hub is down, the instance keeps every event, tries again at least every six hours
  of simulated time (it never schedules a retry further ahead) and dead-letters nothing;
- when the hub is back, every event the instance queued reaches it, and each is applied once;
- a hub restored from a backup taken before the outage misses what arrived after it;
  `groundswell federation catch-up` fills that gap, and what the backup already had is not
  applied a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from federation.transactions import BACKOFF_CAP_SECONDS
from tests.e2e.federation_nodes import Node, create_petition, hub_petitions, node_database, pair
from tests.support.processes import (
    base_environment,
    in_thread,
    missing_service,
    postgres_base_url,
    wait_until,
)

pytestmark = pytest.mark.slow

HOUR = 3600
DAY = 24 * HOUR
OFFLINE = 3 * DAY
# Every step moves the clock by the longest a retry may be scheduled ahead, so each step is
# followed by (at least) one attempt.
STEP = BACKOFF_CAP_SECONDS
# Each node looks for due work every second (GROUNDSWELL_SWEEP_SECONDS), so an attempt follows
# a step within seconds of real time rather than the default 15.
FAST_SWEEP = {"SWEEP_SECONDS": "1"}

POOL = "Open the Riverside pool all summer"
POOL_UPDATED = "Open the Riverside pool all summer long"
TREES = "Plant a hundred trees on Elm street"
TOWPATH = "Light the towpath after dark"
LIBRARY = "Keep the library open on Sundays"

# libfaketime 0.9.10 (Debian 12's) breaks Python ≥ 3.11's time.sleep when the monotonic clock
# is not faked: it shifts the absolute CLOCK_MONOTONIC deadline Python passes to
# clock_nanosleep and the kernel answers EINVAL (https://github.com/wolfcw/libfaketime/issues/426).
# Dramatiq's worker threads call time.sleep, so the node processes on the fake clock load this
# as `sitecustomize`: when sleeping fails, sleep with select(), which libfaketime leaves alone.
SLEEP_FIX = '''\
"""time.sleep for processes under libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1
(see tests/e2e/test_federation_offline.py)."""

import select
import time

try:
    time.sleep(0)
except OSError:

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        select.select([], [], [], seconds)

    time.sleep = _sleep
'''

# Runs on the fake clock: for each line "<our wall clock> <our monotonic clock>" it reads, it
# answers how far its own clocks are from ours (after sleeping, which must work).
CLOCK_PROBE = """
import sys, time
for line in sys.stdin:
    wall, monotonic = (float(value) for value in line.split())
    time.sleep(0.01)
    print(time.time() - wall, time.monotonic() - monotonic, flush=True)
"""


def find_libfaketime() -> Path | None:
    """Debian's `faketime` package puts it in the multiarch library directory."""
    names = [sysconfig.get_config_var("MULTIARCH") or "", "x86_64-linux-gnu", "aarch64-linux-gnu", ""]
    for prefix in ("/usr/lib", "/usr/local/lib"):
        for name in names:
            candidate = Path(prefix, name, "faketime", "libfaketime.so.1")
            if candidate.is_file():
                return candidate
    return None


class SharedClock:
    """One libfaketime offset file for every node process and command: their wall clock is the
    real one plus `offset` seconds, and moves when the file is rewritten (FAKETIME_NO_CACHE:
    each reading of the clock reads the file), without restarting anything."""

    def __init__(self, directory: Path, library: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.file = directory / "faketime"
        site = directory / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(SLEEP_FIX, encoding="utf-8")
        self.env = {
            "LD_PRELOAD": str(library),
            "FAKETIME_TIMESTAMP_FILE": str(self.file),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "PYTHONPATH": str(site),
        }
        self.offset = 0
        self._write()

    @classmethod
    def start(cls, directory: Path) -> SharedClock:
        library = find_libfaketime()
        if library is None:
            missing_service("libfaketime is not installed (Debian package `faketime`)")
        clock = cls(directory, library)
        clock.check()
        return clock

    def now(self) -> float:
        """The simulated time the node processes read right now."""
        return time.time() + self.offset

    def advance(self, seconds: int) -> None:
        self.offset += seconds
        self._write()

    def _write(self) -> None:
        # Replaced in one rename: a process reading the file never sees it half written.
        draft = self.file.with_name(self.file.name + ".new")
        draft.write_text(f"+{self.offset}\n", encoding="utf-8")
        os.replace(draft, self.file)

    def check(self) -> None:
        """One process on this clock sees the offset in time.time(), and a change of the file
        while it runs; its time.monotonic() stays real; it can sleep."""
        probe = subprocess.Popen(
            [sys.executable, "-c", CLOCK_PROBE],
            env={**base_environment(), **self.env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert probe.stdin is not None and probe.stdout is not None
            for offset in (self.offset + 7200, self.offset):
                self.offset = offset
                self._write()
                probe.stdin.write(f"{time.time()} {time.monotonic()}\n")
                probe.stdin.flush()
                answer = probe.stdout.readline().split()
                assert answer, f"a process on the fake clock failed:\n{probe.communicate(timeout=10)[1]}"
                wall, monotonic = (float(value) for value in answer)
                assert abs(wall - offset) < 10, f"the fake clock is off by {wall:.0f} s, not {offset} s"
                assert abs(monotonic) < 10, f"the monotonic clock moved by {monotonic:.0f} s; it must not"
        finally:
            probe.kill()
            probe.communicate(timeout=10)


@dataclass(frozen=True)
class Retry:
    """One failed attempt of the instance's sender, as `federation peers --json` shows it."""

    failures: int
    scheduled_in: float  # seconds from when we saw the attempt to the next one it scheduled
    last_error: str


@dataclass(frozen=True)
class Queued:
    """An event the instance queued for the hub (federation_outbound)."""

    event_id: str
    event_type: str
    status: str
    petition: str


def queued_for(instance: Node, hub_id: str) -> list[Queued]:
    rows = instance.sql(
        "SELECT event_id, event_type, status, envelope FROM federation_outbound "
        f"WHERE peer = '{hub_id}' ORDER BY id"
    )
    return [
        Queued(
            event_id, event_type, status, str(json.loads(envelope)["payload"].get("petition", {}).get("id"))
        )
        for event_id, event_type, status, envelope in rows
    ]


def applied_on_hub(hub: Node, instance_id: str) -> Counter[str]:
    """Event ids from the instance the hub recorded as applied (federation_seen_event)."""
    rows = hub.sql(f"SELECT key FROM federation_seen_event WHERE key LIKE '{instance_id} %'")
    return Counter(key.split(" ", 1)[1] for (key,) in rows)


def copies_on_hub(hub: Node, instance_id: str) -> Counter[str]:
    """How many petitions the hub holds for each of the instance's petitions."""
    rows = hub.sql(
        f"SELECT origin_id, COUNT(*) FROM petition WHERE origin_node = '{instance_id}' GROUP BY origin_id"
    )
    return Counter({origin_id: int(n) for origin_id, n in rows})


def count_reports_applied(hub: Node, instance_id: str) -> Counter[str]:
    """Count reports the hub applied per petition: each one applied adds one sample of the
    total to the copy's history (the directory's "recent growth"); a repeat adds nothing."""
    rows = hub.sql(
        "SELECT c.origin_id, COUNT(s.id) FROM federation_copy c "
        "LEFT JOIN federation_count_sample s ON s.copy = c.id "
        f"WHERE c.origin_node = '{instance_id}' GROUP BY c.origin_id"
    )
    return Counter({origin_id: int(n) for origin_id, n in rows})


def sent_and_applied_once(
    instance: Node, instance_id: str, hub: Node, hub_id: str, expected: list[Queued]
) -> list[Queued] | None:
    """The events the instance has sent to the hub, once they include `expected` and every one
    of them is recorded as applied on the hub exactly once (and the hub applied nothing the
    instance did not queue). The instance keeps queueing (reach reports), so what it sent is
    read before what the hub applied, and its queue again after."""
    sent = [e for e in queued_for(instance, hub_id) if e.status == "sent"]
    if not {e.event_id for e in expected} <= {e.event_id for e in sent}:
        return None
    applied = applied_on_hub(hub, instance_id)
    queued_now = {e.event_id for e in queued_for(instance, hub_id)}
    assert set(applied) <= queued_now, set(applied) - queued_now
    twice = {event_id: n for event_id, n in applied.items() if n > 1}
    assert not twice, twice
    return sent if all(applied[e.event_id] == 1 for e in sent) else None


def counts_per_petition(events: list[Queued]) -> Counter[str]:
    return Counter(e.petition for e in events if e.event_type == "petition.counts")


def sign(node: Node, pid: str, count: int, *, batch: str) -> None:
    """`count` more signers on `node`'s petition `pid`."""
    with node.api() as api:
        for n in range(count):
            signed = api.post(
                f"/api/v1/petitions/{pid}/record_signature_helper",
                json={
                    "person": {
                        "email_addresses": [{"address": f"{batch}{n}.{pid}@example.org"}],
                        "given_name": f"{batch}{n}",
                    }
                },
            )
            assert signed.status_code in (200, 201), signed.text


def retitle(node: Node, pid: str, title: str) -> None:
    with node.api() as api:
        changed = api.put(f"/api/v1/petitions/{pid}", json={"title": title})
        assert changed.status_code == 200, changed.text


def hub_shows(hub: Node, expected: dict[str, int]) -> dict[str, dict] | None:
    """The hub's OSDI petitions by title, once exactly `expected` titles with these totals."""
    listed = {p["title"]: p for p in hub_petitions(hub)}
    totals = {title: p["total_signatures"] for title, p in listed.items()}
    return listed if totals == expected else None


def failed_attempts(instance: Node, hub_id: str) -> int:
    """The sender's count of consecutive failures towards the hub, read from the instance's
    database: polled after each step, where a `groundswell` command per poll would be slow."""
    rows = instance.sql(f"SELECT failures FROM federation_peer WHERE node_id = '{hub_id}'")
    return int(rows[0][0])


def after_next_attempt(instance: Node, hub_id: str, failures_before: int) -> dict:
    """`federation peers --json` about the hub, once the sender has tried again."""
    wait_until(lambda: failed_attempts(instance, hub_id) > failures_before, timeout=60, interval=0.1)
    return instance.peer(hub_id)


# --- the hub's database: an operator's backup and restore ------------------------------------


@dataclass(frozen=True)
class Backup:
    node: Node
    location: str  # a file (SQLite) or a database URL (PostgreSQL)


def _postgres_admin(statements: list[str]) -> None:
    import asyncpg

    parts = urlsplit(postgres_base_url())
    admin_url = urlunsplit(parts._replace(path="/postgres"))

    async def go() -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(go())


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@contextlib.contextmanager
def backed_up(node: Node) -> Iterator[Backup]:
    """A copy of a stopped node's database (its keys stay in its data dir, as in production),
    discarded on leaving the block."""
    if node.database_url:
        name = _database_name(node.database_url)
        copy = f"{name}_backup"
        in_thread(_postgres_admin, [f'CREATE DATABASE "{copy}" TEMPLATE "{name}"'])
        try:
            yield Backup(node, urlunsplit(urlsplit(node.database_url)._replace(path=f"/{copy}")))
        finally:
            in_thread(_postgres_admin, [f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'])
        return
    live = node.instance.data_dir / "groundswell.sqlite3"
    copy_path = live.with_name("backup.sqlite3")
    with (
        contextlib.closing(sqlite3.connect(live)) as source,
        contextlib.closing(sqlite3.connect(copy_path)) as target,
    ):
        source.backup(target)
    yield Backup(node, str(copy_path))


def restore(backup: Backup) -> None:
    """Put a stopped node's database back as it was when `backup` was taken."""
    node = backup.node
    if node.database_url:
        name, copy = _database_name(node.database_url), _database_name(backup.location)
        in_thread(
            _postgres_admin,
            [f'DROP DATABASE "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{copy}"'],
        )
        return
    live = node.instance.data_dir / "groundswell.sqlite3"
    with (
        contextlib.closing(sqlite3.connect(backup.location)) as source,
        contextlib.closing(sqlite3.connect(live)) as target,
    ):
        source.backup(target)


# --- the specification -----------------------------------------------------------------------


def test_a_hub_offline_for_three_days_gets_every_event_once_and_catch_up_fills_a_restored_gap(
    tmp_path,
):
    clock = SharedClock.start(tmp_path / "clock")
    with contextlib.ExitStack() as stack:
        hub = Node(tmp_path / "hub", "hub", database_url=stack.enter_context(node_database()), **FAST_SWEEP)
        instance = Node(
            tmp_path / "instance", "instance", database_url=stack.enter_context(node_database()), **FAST_SWEEP
        )
        for node in (hub, instance):
            node.use_environment(clock.env)
        stack.enter_context(instance.serving())

        # Before the outage: paired, and one petition already on the hub.
        with hub.serving():
            instance_id = pair(hub, instance)
            hub_id = hub.node_id
            pool = create_petition(instance, POOL, signatures=2)
            wait_until(lambda: hub_shows(hub, {POOL: 2}), timeout=60, interval=0.5)
            wait_until(lambda: instance.peer(hub_id)["pending_events"] == 0, timeout=60, interval=0.5)
        before_outage = stack.enter_context(backed_up(hub))  # its last backup, as it went down
        outage_starts = clock.now()
        sent_before_outage = {e.event_id for e in queued_for(instance, hub_id)}

        # Three simulated days with the hub down.
        trees = create_petition(instance, TREES, signatures=3)
        towpath = create_petition(instance, TOWPATH, signatures=1)
        library = create_petition(instance, LIBRARY, signatures=2)
        state = after_next_attempt(instance, hub_id, 0)
        retries: list[Retry] = []
        updated = False
        while clock.now() < outage_starts + OFFLINE:
            if not updated and clock.now() >= outage_starts + DAY:
                retitle(instance, pool, POOL_UPDATED)
                sign(instance, pool, 1, batch="day2-")
                sign(instance, trees, 2, batch="day2-")
                updated = True
            failures = state["failures"]
            clock.advance(STEP)
            state = after_next_attempt(instance, hub_id, failures)
            retries.append(
                Retry(state["failures"], state["next_attempt_at"] - clock.now(), state["last_error"])
            )

        # Pulling from a hub that is down, or from a node that is no peer, fails in one line.
        for node_id, expected in ((hub_id, f"cannot reach {hub.url}"), ("gs-nobody", "no peer gs-nobody")):
            refused = instance.run("federation", "catch-up", node_id)
            assert refused.returncode == 1 and expected in refused.stderr, refused.describe()
            assert len(refused.stderr.strip().splitlines()) == 1, refused.describe()

        # The instance also queues periodic reports of its own (pooled reach); the petitions'
        # events are what this test made happen.
        during_outage = [
            e
            for e in queued_for(instance, hub_id)
            if e.event_id not in sent_before_outage and e.event_type.startswith("petition.")
        ]
        assert updated and state["failures"] > OFFLINE // STEP, state  # an attempt every step
        assert all(r.scheduled_in <= BACKOFF_CAP_SECONDS for r in retries), retries
        assert max(r.scheduled_in for r in retries) > 10 * 60, retries  # it backs off, not hammers
        assert all(r.last_error for r in retries), retries
        assert state["dead_letters"] == 0 and state["status"] == "active", state
        assert {e.status for e in during_outage} == {"pending"}, during_outage
        assert {e.event_type for e in during_outage} == {
            "petition.published",
            "petition.updated",
            "petition.counts",
        }

        final = {POOL_UPDATED: 3, TREES: 5, TOWPATH: 1, LIBRARY: 2}
        petitions = {pool, trees, towpath, library}

        # The hub is back. Its hourly catch-up is due as it starts, so it pulls what it missed;
        # that valid request from the hub resets the instance's backoff, so the instance pushes
        # its queue at once too. Whichever comes second changes nothing: each event is applied
        # once.
        with hub.serving():
            listed = wait_until(lambda: hub_shows(hub, final), timeout=90, interval=1)
            assert {p["origin_system"] for p in listed.values()} == {instance_id}
            sent = wait_until(
                lambda: sent_and_applied_once(instance, instance_id, hub, hub_id, during_outage),
                timeout=60,
            )
        assert copies_on_hub(hub, instance_id) == Counter(dict.fromkeys(petitions, 1))
        assert count_reports_applied(hub, instance_id) == counts_per_petition(sent)

        # The hub's database is restored from the backup taken as the outage began: it
        # lost the three petitions published since, the pool's new title and every count
        # since. The instance has sent all of that already and will not push it again;
        # pulling it back is what catch-up is for. The pool's first events are in the
        # backup, so the pull overlaps what the hub has and must change nothing there.
        restore(before_outage)
        assert copies_on_hub(hub, instance_id) == Counter({pool: 1})
        pulled = hub.run_ok("federation", "catch-up", instance_id)
        received = int(pulled.last_line.split()[0])
        assert len(during_outage) <= received <= len(queued_for(instance, hub_id)), pulled.stdout

        with hub.serving():
            assert hub_shows(hub, final), hub_petitions(hub)
            sent = sent_and_applied_once(instance, instance_id, hub, hub_id, during_outage)
            assert sent, "after catch-up, every event the instance sent is applied on the hub once"
        assert copies_on_hub(hub, instance_id) == Counter(dict.fromkeys(petitions, 1))
        assert count_reports_applied(hub, instance_id) == counts_per_petition(sent)
