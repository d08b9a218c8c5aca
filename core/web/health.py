"""Liveness and readiness for load balancers and Kubernetes probes."""

from __future__ import annotations

import asyncio

from litestar import MediaType, Response, get

from core.db import DatabaseUnavailable, check_database
from core.settings import current_settings
from core.tasks.broker import BrokerUnavailable, check_broker


@get("/healthz", media_type=MediaType.JSON, include_in_schema=False)
async def healthz() -> dict[str, str]:
    """The process is up and serving requests; nothing else is checked."""
    return {"status": "ok"}


@get("/readyz", media_type=MediaType.JSON, include_in_schema=False)
async def readyz() -> Response:
    """Ready to take traffic: the database answers, and the broker too when one is configured."""
    reasons: list[str] = []
    checks: dict[str, str] = {}
    try:
        await check_database(timeout=3.0)
        checks["database"] = "ok"
    except DatabaseUnavailable as exc:
        checks["database"] = "unavailable"
        reasons.append(str(exc))
    broker_url = current_settings().broker_url
    if broker_url:
        try:
            await asyncio.wait_for(asyncio.to_thread(check_broker, broker_url), timeout=5.0)
            checks["broker"] = "ok"
        except (BrokerUnavailable, TimeoutError) as exc:
            checks["broker"] = "unavailable"
            reasons.append(str(exc) or "broker did not answer within 5s")
    else:
        checks["broker"] = "in-process"
    status = 503 if reasons else 200
    body = {"status": "ready" if not reasons else "unavailable", "checks": checks, "reasons": reasons}
    return Response(content=body, status_code=status, media_type=MediaType.JSON)
