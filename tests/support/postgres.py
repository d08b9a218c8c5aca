"""Creating and dropping throwaway PostgreSQL databases for a test session."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(base_url: str, name: str) -> str:
    async def go() -> None:
        connection = await asyncpg.connect(_with_database(base_url, "postgres"))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(go())
    return _with_database(base_url, name)


def drop_database(base_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")

    async def go() -> None:
        connection = await asyncpg.connect(_with_database(base_url, "postgres"))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(go())
