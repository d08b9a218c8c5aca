"""Pooled reach's background work (a task module of the federation plugin): acting on a
hub's boost request as soon as it is recorded, the periodic pass over open requests (copies
that arrived late, reports of what moved), and reach reports to the hub."""

from __future__ import annotations

from core.plugin_api import OutboxWork, outbox_handler, periodic
from federation import boost_requests, reach


@outbox_handler(boost_requests.PROCESS_TOPIC, batch_size=5, max_attempts=5)
async def process_boost_request(work: OutboxWork) -> None:
    await boost_requests.process_request(int(work.payload["request"]))


@periodic("federation.boost_requests", every_seconds=15)
async def process_open_boost_requests(_: OutboxWork) -> None:
    await boost_requests.process_open_requests()


@periodic("federation.reach_report", every_seconds=30)
async def report_reach(_: OutboxWork) -> None:
    await reach.report_reach()
