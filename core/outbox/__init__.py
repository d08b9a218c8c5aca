"""The durable outbox: every unit of background work is a database row first.

Public surface: `handler` registers the code for a topic, `enqueue` adds work (idempotent on
its key; `enqueue_many` adds several in one statement), `transaction` groups writes and wakes
the workers only after commit, and `drain` is what a worker runs for a topic.
"""

from core.outbox.processing import drain, release_claims
from core.outbox.queue import NewWork, enqueue, enqueue_many, outbox_stats, transaction
from core.outbox.registry import (
    OutboxWork,
    PermanentFailure,
    RetryLater,
    TopicHandler,
    handler,
    handlers,
)

__all__ = [
    "NewWork",
    "OutboxWork",
    "PermanentFailure",
    "RetryLater",
    "TopicHandler",
    "drain",
    "enqueue",
    "enqueue_many",
    "handler",
    "handlers",
    "outbox_stats",
    "release_claims",
    "transaction",
]
