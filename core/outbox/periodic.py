"""Periodic jobs through the outbox: once per interval, across every process.

Each sweep enqueues one item per job with a key naming the current interval (for example
`petitions.refresh_stats:29614080`). The key is unique, so however many processes sweep, the
job runs once per interval, by whichever worker claims it, with the outbox's retries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.outbox.queue import enqueue
from core.outbox.registry import HandlerFn, handler


@dataclass(frozen=True)
class PeriodicJob:
    topic: str
    every_seconds: int


_JOBS: dict[str, PeriodicJob] = {}


def periodic(topic: str, every_seconds: int, *, transactional: bool = True):  # type: ignore[no-untyped-def]
    """Register `fn` to run every `every_seconds` (at most once per interval).

    As with `handler`, a job that talks to the network (another node, a mail server) passes
    `transactional=False`: inside the run's write transaction it would hold SQLite's single
    write lock for as long as the remote side takes, and every other writer would wait."""

    def register(fn: HandlerFn) -> HandlerFn:
        handler(
            topic,
            batch_size=1,
            max_attempts=3,
            backoff_base=every_seconds / 4,
            transactional=transactional,
        )(fn)
        _JOBS[topic] = PeriodicJob(topic, every_seconds)
        return fn

    return register


def periodic_topics() -> set[str]:
    return set(_JOBS)


async def enqueue_due_jobs(now: float | None = None) -> int:
    """Queue this interval's run of every job (a no-op for runs already queued)."""
    now = time.time() if now is None else now
    queued = 0
    for job in _JOBS.values():
        queued += await enqueue(job.topic, f"{job.topic}:{int(now // job.every_seconds)}")
    return queued
