"""The Dramatiq broker, chosen from GROUNDSWELL_BROKER_URL, and the one core actor."""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.brokers.stub import StubBroker

from core.db.engine import redact
from core.tasks import event_loop

log = logging.getLogger("groundswell.tasks")

QUEUE = "groundswell"
ACTOR_NAME = "groundswell_outbox_drain"

_broker: dramatiq.Broker | None = None
_actor: dramatiq.Actor | None = None


class BrokerUnavailable(RuntimeError):
    pass


def build_broker(url: str) -> dramatiq.Broker:
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, namespace="groundswell")
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    return StubBroker()


def _drain(topic: str) -> None:
    from core.outbox import drain

    counts = event_loop.run(drain(topic))
    if counts["more"]:
        notify(topic)  # hand the rest to a fresh message so other topics get a turn


def install(url: str) -> dramatiq.Broker:
    """Create the broker and declare the actor on it; idempotent per URL."""
    global _broker, _actor
    if _broker is not None:
        return _broker
    broker = build_broker(url)
    dramatiq.set_broker(broker)
    _actor = dramatiq.actor(
        _drain,
        actor_name=ACTOR_NAME,
        queue_name=QUEUE,
        broker=broker,
        max_retries=3,
        min_backoff=1000,
        max_backoff=60_000,
        time_limit=10 * 60 * 1000,
    )
    _broker = broker
    return broker


def uninstall() -> None:
    """Forget the broker (tests and process shutdown)."""
    global _broker, _actor
    if _broker is not None:
        _broker.close()
    _broker = None
    _actor = None


def current_broker() -> dramatiq.Broker | None:
    return _broker


def notify(topic: str) -> None:
    """Tell a worker that `topic` has due work. Best effort: the sweeper repeats what is lost."""
    if _actor is None:
        return  # no broker in this process (e.g. a CLI command); the sweeper will pick it up
    try:
        _actor.send(topic)
    except Exception as exc:  # a broker outage must not fail the request that enqueued work
        log.warning("could not notify workers about %r (the sweeper will): %s", topic, exc)


def check_broker(url: str, timeout: float = 3.0) -> None:
    """Raise BrokerUnavailable unless the broker at `url` answers. Opens its own short-lived
    connection: a broker's cached connection can look alive after the server went away."""
    if not url:
        return
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
        else:
            import pika

            params = pika.URLParameters(url)
            params.socket_timeout = timeout
            params.blocked_connection_timeout = timeout
            params.connection_attempts = 1
            connection = pika.BlockingConnection(params)
            connection.close()
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BrokerUnavailable(f"broker at {redact(url)} does not answer: {reason}") from None
