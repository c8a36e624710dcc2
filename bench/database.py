"""A freshly migrated database for one bench run, shared by the benches that fill their own."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise import Tortoise, connections

from app import database
from app.settings import Settings


async def fresh_postgres(url: str) -> None:
    """Drop and create again the database `url` names (through the server's `postgres` one)."""
    import asyncpg

    base, name = url.rsplit("/", 1)
    admin = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1) + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


@asynccontextmanager
async def bench_database(database_url: str | None, prefix: str) -> AsyncIterator[bool]:
    """Migrate and open (in Tortoise) the PostgreSQL database `database_url` names, made
    anew, or without one a new SQLite file in a temporary folder named by `prefix`, in WAL
    mode; yields whether it is PostgreSQL, and closes the connections afterwards."""
    url = database_url or f"sqlite://{tempfile.mkdtemp(prefix=prefix)}/bench.sqlite3"
    postgres = url.startswith(("postgres://", "postgresql://"))
    if postgres:
        url = database.normalise_url(url)
        await fresh_postgres(url)
    settings = Settings(_env_file=None, database_url=url)
    await database.migrate(settings)
    await Tortoise.init(config=database.tortoise_config(settings))
    try:
        if not postgres:
            await connections.get("default").execute_script(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
        yield postgres
    finally:
        await Tortoise.close_connections()
