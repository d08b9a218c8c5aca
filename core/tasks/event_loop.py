"""One event loop per process for database work.

Dramatiq runs actors in threads, while Piccolo is async and a PostgreSQL pool belongs to the
loop that created it. So every process has one loop that owns the database: in `serve` it is
the web server's loop; in `worker` it is a dedicated thread. Actor threads hand coroutines to
that loop and wait for the result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None


def adopt(loop: asyncio.AbstractEventLoop) -> None:
    """Use an already running loop (the web server's) for database work."""
    global _loop
    _loop = loop


def release() -> None:
    global _loop
    _loop = None


def start_thread() -> asyncio.AbstractEventLoop:
    """Run a fresh loop in a daemon thread and adopt it (for worker processes)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    threading.Thread(target=run, name="groundswell-db-loop", daemon=True).start()
    ready.wait()
    adopt(loop)
    return loop


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run a coroutine on the database loop from any thread and return its result."""
    loop = _loop
    if loop is None or loop.is_closed():
        return asyncio.run(coro)
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)
