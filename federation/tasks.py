"""Federation's background work, registered with core's durable outbox when a worker loads
the plugin's task modules: delivery to a peer, catch-up pulls, count reports, and periodic
sweeps (retries that are due, counts that moved, pruning of what is kept for 30 days)."""

from __future__ import annotations

import time

from core.plugin_api import OutboxWork, RetryLater, outbox_handler, periodic, plugin_logger
from federation import listing_publishing, outbound, publishing
from federation.pairing import CATCH_UP_TOPIC
from federation.peers import DELIVER_TOPIC
from federation.tables import FederationNonce, FederationOutbound, FederationSeenEvent, FederationTransaction
from federation.transactions import DEAD_LETTER_AFTER_SECONDS, IDEMPOTENCY_RETENTION_SECONDS

log = plugin_logger("federation")


@outbox_handler(DELIVER_TOPIC, transactional=False, batch_size=5, max_attempts=3)
async def deliver(work: OutboxWork) -> None:
    # Failures are not errors here: deliver_to_peer records the backoff on the peer and the
    # sweep retries when it is due.
    log.info("federation delivery %s", await outbound.deliver_to_peer(str(work.payload["peer"])))


@outbox_handler(CATCH_UP_TOPIC, transactional=False, batch_size=1, max_attempts=8)
async def catch_up(work: OutboxWork) -> None:
    try:
        received = await outbound.catch_up(str(work.payload["peer"]))
    except Exception as exc:
        raise RetryLater(f"catch-up from {work.payload['peer']} failed: {exc}") from exc
    log.info("federation catch-up from %s: %d events", work.payload["peer"], received)


@outbox_handler(publishing.COUNTS_TOPIC, transactional=False, batch_size=20)
async def report_counts(work: OutboxWork) -> None:
    await publishing.report_counts(int(work.payload["petition_id"]))


@periodic("federation.sweep", every_seconds=15, transactional=False)  # HTTP to peers
async def sweep(_: OutboxWork) -> None:
    for node_id in await outbound.due_peers(time.time()):
        log.info("federation delivery %s", await outbound.deliver_to_peer(node_id))


@periodic("federation.report_all_counts", every_seconds=300)
async def report_all_counts(_: OutboxWork) -> None:
    await publishing.report_all_counts()


@periodic("federation.send_missing_listings", every_seconds=600)
async def send_missing_listings(_: OutboxWork) -> None:
    """Groups and events listed before this instance was paired reach the hub within minutes."""
    queued = await listing_publishing.send_missing_listings()
    if queued:
        log.info("federation: %d group and event listings queued for the hub", queued)


@periodic("federation.catch_up_all", every_seconds=3600, transactional=False)  # HTTP to peers
async def catch_up_all(_: OutboxWork) -> None:
    for node_id in await outbound.all_peers():
        try:
            await outbound.catch_up(node_id)
        except Exception as exc:  # one unreachable peer must not stop the others
            log.warning("federation catch-up from %s failed: %s", node_id, exc)


@periodic("federation.prune", every_seconds=3600)
async def prune(_: OutboxWork) -> None:
    now = time.time()
    await FederationNonce.delete().where(FederationNonce.until < now)
    await FederationTransaction.delete().where(
        FederationTransaction.created_at < now - IDEMPOTENCY_RETENTION_SECONDS
    )
    await FederationSeenEvent.delete().where(
        FederationSeenEvent.created_at < now - IDEMPOTENCY_RETENTION_SECONDS
    )
    await FederationOutbound.delete().where(
        (FederationOutbound.status == "sent")
        & (FederationOutbound.created_at < now - DEAD_LETTER_AFTER_SECONDS)
    )
