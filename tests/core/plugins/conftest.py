"""Installing fake plugins for a test, with their migrations applied and tables empty."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence

import pytest

from core.plugins.declaration import Plugin
from core.plugins.host import installed_plugins
from tests.core.plugins.fake_greeter import plugin as greeter_module
from tests.support.database import clean_database


@contextlib.asynccontextmanager
async def plugins_installed(plugins: Mapping[str, object] | Sequence[Plugin]) -> AsyncIterator[None]:
    """Pretend these are installed, migrate them, and start from empty tables."""
    from core.db import migrate

    with installed_plugins(plugins):
        await migrate()
        await clean_database()
        greeter_module.RECEIVED.clear()
        yield


@contextlib.asynccontextmanager
async def running_app(plugins: Mapping[str, object] | Sequence[Plugin]) -> AsyncIterator:
    """An app with these plugins installed, started, and a browser-like client on it."""
    from core.web.app import create_app
    from tests.support.asgi import app_client

    async with plugins_installed(plugins):
        async with app_client(create_app()) as client:
            yield client


@pytest.fixture
async def greeter_client() -> AsyncIterator:
    async with running_app([greeter_module.greeter()]) as client:
        yield client
