"""The durable outbox: the database is the source of truth for pending work.

Broker messages only say "work on topic X"; these specs pin down what the rows do: enqueueing
is idempotent, workers are woken only for committed work, concurrent workers never share an
item, failures come back later or go dead, abandoned claims are reclaimed, and a handler's
database effects commit together with "done" or not at all.

Handlers are registered per test under unique topic names, because the registry is global to
the process. Time passes by editing `available_at` / `lease_until`, never by sleeping.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from core.outbox import (
    NewWork,
    OutboxWork,
    PermanentFailure,
    RetryLater,
    drain,
    enqueue,
    enqueue_many,
    handler,
    release_claims,
    transaction,
)
from core.outbox.processing import claim, due_topics
from core.outbox.registry import handler_for
from core.outbox.tables import OutboxItem
from core.tasks.worker import sweep_once
from tests.support.outbox import wait_for_outbox
from tests.support.probe_worker import create_probe_table, drop_probe_table, probe_rows, record_probe

Handler = Callable[[OutboxWork], Awaitable[None]]


def register(fn: Handler, **options: Any) -> str:
    """Register `fn` under a fresh topic name and return the name."""
    topic = f"test.{fn.__name__}.{secrets.token_hex(4)}"
    handler(topic, **options)(fn)
    return topic


async def item(key: str) -> OutboxItem:
    return await OutboxItem.objects().get(OutboxItem.key == key)


async def make_due(*keys: str) -> None:
    """As if the retry delay had passed."""
    for key in keys:
        await OutboxItem.raw("UPDATE outbox_item SET available_at = 0 WHERE key = {}", key)


async def lapse_leases() -> None:
    """As if every claim's lease had run out (its worker died or stalled)."""
    await OutboxItem.raw("UPDATE outbox_item SET lease_until = 0 WHERE status = 'processing'")


@pytest.fixture
async def probe() -> AsyncIterator[None]:
    """A table that handlers write to, to observe their database effects."""
    await create_probe_table()
    yield
    await drop_probe_table()


@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Topics announced to workers (instead of reaching a broker), in order."""
    calls: list[str] = []
    monkeypatch.setattr("core.tasks.broker.notify", calls.append)
    return calls


# Enqueueing


async def test_enqueueing_the_same_key_twice_queues_once(announced: list[str]) -> None:
    assert await enqueue("test.idempotent", "welcome:42", {"n": 1}) is True
    assert await enqueue("test.idempotent", "welcome:42", {"n": 2}) is False

    rows = await OutboxItem.select().where(OutboxItem.key == "welcome:42")
    assert len(rows) == 1
    assert rows[0]["payload"] in ({"n": 1}, '{"n": 1}', '{"n":1}')  # the first payload stays
    assert announced == ["test.idempotent"]  # the duplicate wakes nobody


async def test_enqueueing_the_same_key_concurrently_queues_once(announced: list[str]) -> None:
    results = await asyncio.gather(*(enqueue("test.race", "only-once") for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert await OutboxItem.count().where(OutboxItem.key == "only-once") == 1


async def test_enqueueing_several_at_once_skips_keys_already_queued(announced: list[str]) -> None:
    await enqueue("test.many.a", "a:event:1")
    announced.clear()
    async with transaction():
        queued = await enqueue_many(
            [
                NewWork("test.many.a", "a:event:1", {"n": 2}),  # already queued: skipped
                NewWork("test.many.b", "b:event:1"),
                NewWork("test.many.c", "c:event:1", {"n": 3}),
            ]
        )
        assert announced == []
    assert queued == 2
    assert announced == ["test.many.b", "test.many.c"]
    assert await OutboxItem.count() == 3
    assert await enqueue_many([]) == 0


async def test_enqueueing_outside_a_transaction_announces_at_once(announced: list[str]) -> None:
    await enqueue("test.now", "k1")
    assert announced == ["test.now"]


async def test_a_transaction_announces_its_topics_only_after_commit(announced: list[str]) -> None:
    async with transaction():
        await enqueue("test.b", "k1")
        await enqueue("test.a", "k2")
        await enqueue("test.b", "k3")
        assert announced == []  # a worker woken now would not see the rows yet
    assert announced == ["test.a", "test.b"]  # once per topic
    assert await OutboxItem.count() == 3


async def test_a_rolled_back_transaction_keeps_and_announces_nothing(announced: list[str]) -> None:
    with pytest.raises(RuntimeError):
        async with transaction():
            await enqueue("test.rollback", "k1")
            raise RuntimeError("the request failed after enqueueing")
    assert announced == []
    assert await OutboxItem.count() == 0


async def test_nested_transactions_announce_once_after_the_outermost_commit(announced: list[str]) -> None:
    async with transaction():
        async with transaction():
            await enqueue("test.nested", "k1")
        assert announced == []
        await enqueue("test.nested", "k2")
    assert announced == ["test.nested"]


# Draining


async def test_draining_runs_each_due_item_once_and_marks_it_done(probe: None) -> None:
    async def effect(work: OutboxWork) -> None:
        await record_probe(work.key)

    topic = register(effect, batch_size=3)
    keys = [f"k{i}" for i in range(7)]
    for key in keys:
        await enqueue(topic, key)

    counts = await drain(topic)

    assert counts["done"] == 7
    assert sorted(key for key, _ in await probe_rows()) == sorted(keys)
    done = await item("k0")
    assert done.status == "done"
    assert done.attempts == 1
    assert done.finished_at is not None
    assert (await drain(topic))["done"] == 0  # nothing is due any more


async def test_concurrent_drains_never_process_the_same_item(probe: None) -> None:
    seen: list[str] = []

    async def effect(work: OutboxWork) -> None:
        seen.append(work.key)
        await asyncio.sleep(0.005)  # let the other drains run in between
        await record_probe(work.key)

    topic = register(effect, batch_size=4)
    keys = [f"k{i}" for i in range(30)]
    for key in keys:
        await enqueue(topic, key)

    results = await asyncio.gather(*(drain(topic) for _ in range(4)))

    assert sum(r["done"] for r in results) == 30
    assert sum(1 for r in results if r["done"]) > 1, "the drains did not actually overlap"
    assert Counter(seen) == Counter(keys)  # every item started exactly once
    assert Counter(key for key, _ in await probe_rows()) == Counter(keys)
    assert await OutboxItem.count().where(OutboxItem.status != "done") == 0


async def test_a_handler_error_retries_later_with_backoff() -> None:
    async def fails(work: OutboxWork) -> None:
        raise ValueError("the remote end hung up")

    topic = register(fails, backoff_base=60)
    await enqueue(topic, "k1")

    before = time.time()
    counts = await drain(topic)

    assert counts["retry"] == 1
    retried = await item("k1")
    assert retried.status == "pending"
    assert retried.attempts == 1
    assert retried.last_error == "ValueError: the remote end hung up"
    assert before + 30 <= retried.available_at <= time.time() + 60  # base 60 s, full jitter above half
    assert retried.lease_token == ""
    assert (await drain(topic))["retry"] == 0  # not due yet


async def test_backoff_grows_with_each_attempt() -> None:
    async def fails(work: OutboxWork) -> None:
        raise ValueError("still down")

    topic = register(fails, backoff_base=10)
    await enqueue(topic, "k1")
    delays = []
    for _ in range(4):
        await make_due("k1")
        started = time.time()
        await drain(topic)
        delays.append((await item("k1")).available_at - started)
    # attempt n waits between base*2^(n-1)/2 and base*2^(n-1)
    for attempt, delay in enumerate(delays, start=1):
        ceiling = 10 * 2 ** (attempt - 1)
        assert ceiling / 2 - 1 <= delay <= ceiling + 1, (attempt, delays)


async def test_retry_later_with_a_delay_is_honoured() -> None:
    calls = 0

    async def busy(work: OutboxWork) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RetryLater("rate limited", delay=120)

    topic = register(busy, backoff_base=1)
    await enqueue(topic, "k1")

    before = time.time()
    assert (await drain(topic))["retry"] == 1
    waiting = await item("k1")
    assert before + 120 <= waiting.available_at <= time.time() + 120
    assert waiting.last_error == "RetryLater: rate limited"

    await make_due("k1")
    assert (await drain(topic))["done"] == 1
    assert (await item("k1")).attempts == 2


async def test_a_permanent_failure_is_dead_at_once() -> None:
    async def refuses(work: OutboxWork) -> None:
        raise PermanentFailure("the address does not exist")

    topic = register(refuses, max_attempts=10)
    await enqueue(topic, "k1")

    assert (await drain(topic))["dead"] == 1
    dead = await item("k1")
    assert dead.status == "dead"
    assert dead.attempts == 1
    assert dead.last_error == "the address does not exist"
    assert dead.finished_at is not None


async def test_an_item_is_dead_after_max_attempts() -> None:
    async def fails(work: OutboxWork) -> None:
        raise RetryLater("not yet", delay=60)

    topic = register(fails, max_attempts=3)
    await enqueue(topic, "k1")

    outcomes = []
    for _ in range(3):
        await make_due("k1")
        counts = await drain(topic)
        outcomes.append("dead" if counts["dead"] else "retry" if counts["retry"] else "?")

    assert outcomes == ["retry", "retry", "dead"]
    dead = await item("k1")
    assert dead.status == "dead"
    assert dead.attempts == 3
    assert "not yet" in dead.last_error
    await make_due("k1")
    assert (await drain(topic)) == {"done": 0, "retry": 0, "dead": 0, "lost": 0, "more": 0}


async def test_a_handler_error_rolls_back_the_handlers_database_effects(probe: None) -> None:
    async def half_done(work: OutboxWork) -> None:
        await record_probe(work.key)
        raise ValueError("failed after writing")

    topic = register(half_done)
    await enqueue(topic, "k1")
    await drain(topic)
    assert await probe_rows() == []
    assert (await item("k1")).status == "pending"


# Claims and leases


async def test_an_item_whose_lease_lapsed_is_reclaimed(probe: None) -> None:
    async def effect(work: OutboxWork) -> None:
        await record_probe(work.key)

    topic = register(effect, lease_seconds=60)
    await enqueue(topic, "k1")
    # A worker claims the item and dies before finishing it.
    crashed = await claim(handler_for(topic), "crashed-worker")
    assert [w.key for w in crashed] == ["k1"]

    assert (await drain(topic))["done"] == 0  # its lease still holds
    assert await due_topics() == []

    await lapse_leases()
    assert await due_topics() == [topic]
    assert (await drain(topic))["done"] == 1
    reclaimed = await item("k1")
    assert reclaimed.status == "done"
    assert reclaimed.attempts == 2  # the crashed attempt counts
    assert [key for key, _ in await probe_rows()] == ["k1"]


async def test_a_worker_that_lost_its_lease_rolls_back_its_handlers_effects(probe: None) -> None:
    async def effect(work: OutboxWork) -> None:
        await record_probe(work.key)
        # Meanwhile another worker reclaims the item (simulated: it takes the claim over).
        await OutboxItem.raw("UPDATE outbox_item SET lease_token = 'other-worker' WHERE id = {}", work.id)

    topic = register(effect)
    await enqueue(topic, "k1")

    counts = await drain(topic)

    assert counts["lost"] == 1
    assert counts["done"] == 0
    assert await probe_rows() == []  # the effect went with the rolled-back transaction
    assert (await item("k1")).status == "processing"  # left to whoever holds the lease


async def test_a_worker_does_not_start_an_item_another_worker_took_over(probe: None) -> None:
    """A batch can outlast its lease; the items at its tail may then be reclaimed by another
    worker while this one is still busy. This worker must skip them rather than run their
    handler too (an email would go out twice, even though the database effects would roll
    back)."""
    started: list[str] = []

    async def effect(work: OutboxWork) -> None:
        started.append(work.key)
        if work.key == "k1":  # while k1 runs, another worker takes k2 over (committed with k1)
            await OutboxItem.raw("UPDATE outbox_item SET lease_token = 'other-worker' WHERE key = 'k2'")
        await record_probe(work.key)

    topic = register(effect, batch_size=10)
    await enqueue(topic, "k1")
    await enqueue(topic, "k2")

    counts = await drain(topic)

    assert started == ["k1"]
    assert counts["done"] == 1
    assert counts["lost"] == 1
    assert [key for key, _ in await probe_rows()] == ["k1"]
    taken = await item("k2")
    assert (taken.status, taken.lease_token) == ("processing", "other-worker")


async def test_releasing_claims_hands_unstarted_items_back() -> None:
    async def never(work: OutboxWork) -> None:
        raise AssertionError("not run in this test")

    topic = register(never, batch_size=3)
    for key in ("k1", "k2", "k3"):
        await enqueue(topic, key)
    batch = await claim(handler_for(topic), "token-a")
    assert [w.key for w in batch] == ["k1", "k2", "k3"]

    await release_claims("token-b", [w.id for w in batch])  # not our claim: nothing happens
    assert await OutboxItem.count().where(OutboxItem.status == "processing") == 3

    await release_claims("token-a", [w.id for w in batch[1:]])
    assert (await item("k1")).status == "processing"
    for key in ("k2", "k3"):
        released = await item(key)
        assert (released.status, released.attempts, released.lease_token) == ("pending", 0, "")

    await release_claims("token-a", [])  # nothing to do, no error


async def test_a_drain_out_of_time_hands_back_what_it_did_not_start() -> None:
    async def slow(work: OutboxWork) -> None:
        await asyncio.sleep(0.2)

    topic = register(slow, batch_size=5)
    for i in range(5):
        await enqueue(topic, f"k{i}")

    counts = await drain(topic, time_budget=0.1)

    assert counts["done"] == 1
    assert counts["more"] == 4  # the actor sends itself a new message for these
    assert await OutboxItem.count().where(OutboxItem.status == "pending") == 4
    assert await OutboxItem.count().where(OutboxItem.attempts > 0) == 1  # never started, never counted
    assert await due_topics() == [topic]


async def test_draining_a_topic_without_a_handler_changes_nothing() -> None:
    await enqueue("test.nobody-handles-this", "k1")
    counts = await drain("test.nobody-handles-this")
    assert counts == {"done": 0, "retry": 0, "dead": 0, "lost": 0, "more": 0}
    left = await item("k1")
    assert (left.status, left.attempts) == ("pending", 0)


# The sweeper


async def test_the_sweeper_reannounces_due_and_abandoned_work(announced: list[str]) -> None:
    async def never(work: OutboxWork) -> None:
        raise AssertionError("not run in this test")

    stuck, due, later, running, finished = (register(never) for _ in range(5))
    await enqueue(due, "due")  # its broker message was lost
    await enqueue(later, "later", delay=3600)  # a retry that is not due yet
    await enqueue(stuck, "stuck")
    await claim(handler_for(stuck), "dead-worker")
    await lapse_leases()  # ...and the worker that claimed it died
    await enqueue(running, "running")
    await claim(handler_for(running), "live-worker")  # a live claim: not the sweeper's business
    await enqueue(finished, "finished")
    await OutboxItem.raw("UPDATE outbox_item SET status = 'done' WHERE key = 'finished'")
    announced.clear()

    from core.outbox.periodic import periodic_topics

    # The sweep also queues this interval's periodic jobs (whichever are registered).
    periodic = periodic_topics()
    assert [t for t in await sweep_once() if t not in periodic] == sorted([stuck, due])
    assert [t for t in announced if t not in periodic] == sorted([stuck, due])


async def test_work_a_handler_enqueues_is_announced_after_the_handler_commits(
    announced: list[str],
) -> None:
    """Follow-up work must not wake a worker before the row is visible to it."""
    follow_up = register(lambda work: asyncio.sleep(0))
    seen_when_announced: list[int] = []

    async def fan_out(work: OutboxWork) -> None:
        await enqueue(follow_up, f"{work.key}:next")
        seen_when_announced.append(len(announced))

    topic = register(fan_out)
    await enqueue(topic, "k1")
    announced.clear()

    assert (await drain(topic))["done"] == 1
    assert seen_when_announced == [0]
    assert announced == [follow_up]


# The embedded (no broker) worker of `serve`


async def test_the_in_process_worker_processes_enqueued_work(client: Any, probe: None) -> None:
    async def effect(work: OutboxWork) -> None:
        await record_probe(work.key)

    topic = register(effect)
    async with transaction():
        for i in range(5):
            await enqueue(topic, f"k{i}")
    await wait_for_outbox(timeout=10, topic=topic)
    assert sorted(key for key, _ in await probe_rows()) == [f"k{i}" for i in range(5)]


async def test_a_non_transactional_handler_runs_without_holding_a_write_transaction():
    """Mail is sent outside any transaction: other writers are not blocked meanwhile."""
    from core.db import database

    seen: list[object] = []

    @handler("test.nontransactional", transactional=False)
    async def work(item: OutboxWork) -> None:
        seen.append(database().current_transaction.get())

    await enqueue("test.nontransactional", "nt-1")
    counts = await drain("test.nontransactional")
    assert counts["done"] == 1
    assert seen == [None]


async def test_periodic_jobs_run_once_per_interval_however_many_processes_sweep():
    from core.outbox.periodic import enqueue_due_jobs, periodic

    runs: list[str] = []

    @periodic("test.periodic", every_seconds=60)
    async def job(item: OutboxWork) -> None:
        runs.append(item.key)

    now = 1_800_000_000.0
    await enqueue_due_jobs(now)
    await enqueue_due_jobs(now + 5)  # a second process, same minute
    await drain("test.periodic")
    await enqueue_due_jobs(now + 61)  # the next minute
    await drain("test.periodic")
    assert runs == ["test.periodic:30000000", "test.periodic:30000001"]


async def test_finished_items_are_purged_after_thirty_days():
    from datetime import UTC, datetime, timedelta

    from core.outbox.maintenance import purge_finished

    await enqueue("test.old", "old-1")
    await enqueue("test.old", "recent-1")
    await OutboxItem.update(
        {OutboxItem.status: "done", OutboxItem.finished_at: datetime.now(UTC) - timedelta(days=31)}
    ).where(OutboxItem.key == "old-1")
    await OutboxItem.update({OutboxItem.status: "done", OutboxItem.finished_at: datetime.now(UTC)}).where(
        OutboxItem.key == "recent-1"
    )
    await purge_finished(None)
    assert [r["key"] for r in await OutboxItem.select(OutboxItem.key)] == ["recent-1"]
