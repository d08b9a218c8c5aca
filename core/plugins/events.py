"""Core events, delivered to plugins through the durable outbox.

Why the outbox and not a call after commit: `emit` runs inside the caller's transaction and
only inserts one outbox row per plugin that handles the event, so the event exists exactly
when the change it reports was committed (a rolled-back signature emits nothing), a crash
between commit and delivery loses nothing, and signing never waits for, nor fails with,
plugin code. Each plugin has its own topic (`plugin.event.<name>`): a slow or failing plugin
is retried with backoff, dead-lettered after its attempts, and never delays another plugin.
With no plugin handling an event, emitting costs nothing.

Handlers run outside a database transaction (they may call other services), so delivery is
at-least-once: `Event.key` identifies the occurrence for handlers that must not act twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from core.outbox import NewWork, OutboxWork, enqueue_many, handler
from core.plugins import host
from core.plugins.declaration import EVENTS, Event, Plugin

log = logging.getLogger("groundswell.plugins")

TOPIC_PREFIX = "plugin.event."
MAX_ATTEMPTS = 8


def topic_for(plugin_name: str) -> str:
    return TOPIC_PREFIX + plugin_name


def handled(event: str) -> bool:
    """Whether any running plugin handles `event`: lets callers skip work (a query) that only
    the event needs."""
    return any(event in p.events for p in host.active_plugins())


async def emit(event: str, key: str, data: dict[str, Any]) -> int:
    """Queue `event` for each running plugin that handles it; returns how many. Call it inside
    the transaction that makes the change. It never raises: a problem is logged."""
    if event not in EVENTS:
        log.error("emit of unknown event %r ignored (known: %s)", event, ", ".join(EVENTS))
        return 0
    names = [p.name for p in host.active_plugins() if event in p.events]
    if not names:
        return 0
    payload = {"event": event, "key": key, "data": data, "occurred_at": datetime.now(UTC).isoformat()}
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        log.error("event %s %s not emitted: its data is not JSON (%s)", event, key, exc)
        return 0
    work = [NewWork(topic, f"{topic}:{event}:{key}"[:300], payload) for topic in map(topic_for, names)]
    try:
        return await enqueue_many(work)
    except Exception:
        log.exception("event %s %s not queued for plugins %s", event, key, ", ".join(names))
        return 0


async def deliver(work: OutboxWork) -> None:
    """The outbox handler of every plugin's event topic: call the plugin's handler. An error
    propagates to the outbox, which logs it and retries this plugin's item alone."""
    name = work.topic.removeprefix(TOPIC_PREFIX)
    plugin = host.active_plugin(name)
    event_name = str(work.payload.get("event", ""))
    if plugin is None or event_name not in plugin.events:
        log.info("event %s for plugin %s dropped: the plugin no longer handles it", work.key, name)
        return
    occurred = work.payload.get("occurred_at")
    event = Event(
        name=event_name,
        key=str(work.payload.get("key", "")),
        data=dict(work.payload.get("data") or {}),
        occurred_at=datetime.fromisoformat(occurred) if occurred else datetime.now(UTC),
    )
    await plugin.events[event_name](event)


def register_event_topics(plugins: Iterable[Plugin]) -> None:
    """Give each plugin that handles events its outbox topic (idempotent)."""
    for plugin in plugins:
        if plugin.events:
            handler(topic_for(plugin.name), transactional=False, max_attempts=MAX_ATTEMPTS, batch_size=20)(
                deliver
            )
