"""An HTTP client that runs the app on the test's own event loop, lifespan included.

Litestar's AsyncTestClient runs the app in a separate thread and loop, but a PostgreSQL pool
belongs to the loop that created it; tests touch the same database directly, so app and test
must share one loop — as the app and its workers do in production.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from core.plugins.testing import lifespan

BASE_URL = "http://testserver.local"


def browser(app: Any) -> httpx.AsyncClient:
    """A client with its own cookie jar, for an app whose lifespan already runs."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL, follow_redirects=True)


@contextlib.asynccontextmanager
async def app_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app (lifespan: pool, in-process worker) and give a browser-like client."""
    async with lifespan(app), browser(app) as client:
        yield client
