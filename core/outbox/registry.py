"""Which code handles which outbox topic, and the errors a handler may raise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OutboxWork:
    """One claimed item, as a handler sees it. `attempts` counts this attempt too."""

    id: int
    topic: str
    key: str
    payload: dict[str, Any]
    attempts: int


class RetryLater(Exception):
    """Try this item again after `delay` seconds (default: the topic's backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class PermanentFailure(Exception):
    """Retrying cannot help; the item is marked dead with this reason."""


HandlerFn = Callable[[OutboxWork], Awaitable[None]]


@dataclass(frozen=True)
class TopicHandler:
    topic: str
    fn: HandlerFn
    batch_size: int = 50
    lease_seconds: float = 300.0
    max_attempts: int = 10
    backoff_base: float = 10.0
    backoff_cap: float = 6 * 3600.0
    transactional: bool = True
    options: dict[str, Any] = field(default_factory=dict)


_HANDLERS: dict[str, TopicHandler] = {}


def handler(
    topic: str,
    *,
    batch_size: int = 50,
    lease_seconds: float = 300.0,
    max_attempts: int = 10,
    backoff_base: float = 10.0,
    transactional: bool = True,
) -> Callable[[HandlerFn], HandlerFn]:
    """Register `fn` as the handler for `topic`.

    By default the handler runs inside a database transaction that also marks the item done,
    so its database effects happen exactly once. A handler whose work is outside the database
    (sending an email) sets `transactional=False`: holding a write transaction through a
    network call would block every other writer (SQLite locks the whole database). Such
    effects are at-least-once and should be keyed so a repeat is recognisable.
    """

    def register(fn: HandlerFn) -> HandlerFn:
        existing = _HANDLERS.get(topic)
        if existing is not None and existing.fn is not fn:
            raise ValueError(f"outbox topic {topic!r} already has a handler ({existing.fn!r})")
        _HANDLERS[topic] = TopicHandler(
            topic=topic,
            fn=fn,
            batch_size=batch_size,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            transactional=transactional,
        )
        return fn

    return register


def handlers() -> dict[str, TopicHandler]:
    return dict(_HANDLERS)


def handler_for(topic: str) -> TopicHandler | None:
    return _HANDLERS.get(topic)
