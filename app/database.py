"""Tortoise ORM configuration, migrations and small database helpers."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import BaseORMException
from tortoise.expressions import Q
from tortoise.migrations.api import migrate as run_migrations
from tortoise.migrations.autodetector import MigrationAutodetector

from app.settings import Settings

APP_LABEL = "models"
MODEL_MODULES = [
    "app.accounts.models",
    "app.ledger.models",
    "app.credits.models",
    "app.planet.models",
    "app.rulesets.models",
    "app.shop.models",
    "app.payouts.models",
    "app.merchants.models",
    "app.partner_links.models",
    "app.certification.models",
    "app.market.models",
    "app.transparency.models",
]
MIGRATIONS_MODULE = "migrations"


def normalise_url(url: str) -> str:
    """Accept the common spellings of a PostgreSQL URL; make SQLite's folder exist."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://") and url != "sqlite://:memory:":
        Path(url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)
    return url


class QuietResetConnection(asyncpg.connection.Connection):
    """A pooled connection returned to the pool without asyncpg's reset query.

    asyncpg sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release: a round trip for each pooled statement outside a transaction. The
    service uses no session advisory locks (the transparency log's sequencer takes a
    transaction one, released at commit), cursors, LISTEN or session settings, so there is
    nothing to reset (an open transaction is still rolled back by asyncpg)."""

    def get_reset_query(self) -> str:
        return ""


def connection_config(url: str) -> str | dict[str, Any]:
    """The Tortoise connection: the URL itself, or for PostgreSQL its expanded form with
    the quiet-reset connection class."""
    url = normalise_url(url)
    if not url.startswith("postgres://"):
        return url
    config = expand_db_url(url)
    config["credentials"]["connection_class"] = QuietResetConnection
    return config


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": connection_config(settings.database_url)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(settings: Settings) -> None:
    """Apply every pending migration in `migrations/`."""
    try:
        await run_migrations(config=tortoise_config(settings))
    finally:
        await Tortoise.close_connections()


async def pending_model_changes(settings: Settings) -> list[str]:
    """Describe model changes that no migration covers yet (empty when in step)."""
    config = tortoise_config(settings)
    await Tortoise.init(config=config)
    try:
        writers = await MigrationAutodetector(Tortoise.apps, config["apps"]).changes()
        return [f"{w.app_label}: {op.describe()}" for w in writers for op in w.operations]
    finally:
        await Tortoise.close_connections()


async def ping() -> None:
    await connections.get("default").execute_query("SELECT 1")


def model_tables() -> list[str]:
    return [model._meta.db_table for model in Tortoise.apps.get_models_iterable()]


async def clear_all_tables() -> None:
    """Delete every row of every model table (tests and demo resets only)."""
    conn = connections.get("default")
    tables = model_tables()
    if conn.capabilities.dialect == "postgres":
        quoted = ", ".join(f'"{t}"' for t in tables)
        await conn.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        deletes = "".join(f'DELETE FROM "{table}";' for table in tables)
        await conn.execute_script(f"PRAGMA foreign_keys = OFF;{deletes}PRAGMA foreign_keys = ON;")


def newest_first(query: Any, after: tuple[datetime, uuid.UUID | str] | None) -> Any:
    """`query` newest first by (created_at, id), starting after the `after` key (keyset)."""
    if after is not None:
        created, last_id = after
        query = query.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=last_id))
    return query.order_by("-created_at", "-id")


def row_date(value: date | str) -> date:
    """A date read with raw SQL: SQLite hands it back as text, PostgreSQL as a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def dialect_sql(conn: Any, template: str, count: int = 9) -> str:
    """Fill numbered placeholders {1}..{count} in the connection's dialect ($1 or ?1)."""
    mark = "$" if conn.capabilities.dialect == "postgres" else "?"
    return template.format(*[f"{mark}{i}" for i in range(count + 1)])


async def select_by_keys(conn: Any, table: str, columns: list[str], key_columns: list[str],
                         keys: list[tuple[str, ...]], order_by: tuple[str, ...] = ()) -> list[dict]:
    """`columns` of the rows of `table` whose text `key_columns` hold one of `keys` (tuples
    in the order of `key_columns`), in the order of the columns `order_by` names, if any.
    One statement of fixed text joining the keys to the table, so the database looks each
    key up in the index on `key_columns` (name an index's columns, leading one first):
    `unnest($1::text[], …)` on PostgreSQL, `json_each(?)` on SQLite. A filter on each
    column (`kind = ANY(…) AND digest = ANY(…)`, or Tortoise's `__in`) reads every row of
    the leading column's values instead, more the longer the table."""
    if not keys:
        return []
    wanted = ", ".join(f't."{column}"' for column in columns)
    order = (" ORDER BY " + ", ".join(f't."{column}"' for column in order_by)) if order_by else ""
    if conn.capabilities.dialect == "postgres":
        names = ", ".join(f"k{i}" for i in range(len(key_columns)))
        arrays = ", ".join(f"${i + 1}::text[]" for i in range(len(key_columns)))
        match = " AND ".join(f't."{column}" = k.k{i}' for i, column in enumerate(key_columns))
        return await conn.execute_query_dict(
            f'SELECT {wanted} FROM unnest({arrays}) AS k({names}) JOIN "{table}" AS t ON {match}{order}',
            [list(values) for values in zip(*keys, strict=True)])
    match = " AND ".join(f"t.\"{column}\" = json_extract(k.value, '$[{i}]')"
                         for i, column in enumerate(key_columns))
    return await conn.execute_query_dict(
        f'SELECT {wanted} FROM json_each(?) AS k JOIN "{table}" AS t ON {match}{order}',
        [json.dumps([list(key) for key in keys])])


# What a database can raise: Tortoise's errors and the drivers' own (a deadlock, a
# serialisation failure or a lost connection reach the caller untranslated).
DATABASE_ERRORS = (BaseORMException, asyncpg.PostgresError, asyncpg.InterfaceError,
                   sqlite3.Error, OSError)


async def insert_rows(conn: Any, table: str, columns: dict[str, str], rows: list[tuple]) -> None:
    """Insert `rows` (tuples in the order of `columns`, which maps each column to its
    PostgreSQL type) in one statement. On PostgreSQL the statement is always the same
    text, `INSERT … SELECT * FROM unnest($1::type[], …)` with one array per column, so it
    is parsed and planned once per connection, whatever the number of rows; executemany
    would send a statement per row, and a multi-row VALUES list would be a new statement
    of thousands of parameters for every size of batch. SQLite (in-process, no round
    trips) gets multi-row VALUES within its parameter limit."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    if conn.capabilities.dialect == "postgres":
        arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(columns.values()))
        await conn.execute_query(f'INSERT INTO "{table}" ({names}) SELECT * FROM unnest({arrays})',
                                 [list(column) for column in zip(*rows, strict=True)])
        return
    width = len(columns)
    per_statement = max(1, 30000 // width)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        marks = ", ".join("(" + ", ".join("?" * width) + ")" for _ in chunk)
        await conn.execute_query(f'INSERT INTO "{table}" ({names}) VALUES {marks}',
                                 [value for row in chunk for value in row])


async def update_rows(conn: Any, table: str, key: str, columns: dict[str, str],
                      rows: list[tuple]) -> None:
    """Set `columns` of several rows, each found by its bigint `key`, in one statement:
    `rows` are (key, value, …) tuples in the order of `columns` (column -> PostgreSQL
    type). One fixed statement on PostgreSQL (`UPDATE … FROM unnest(…)`, see
    `insert_rows`); Tortoise's bulk_update builds a CASE per column through pypika, which
    costs more CPU than the round trips it saves."""
    if not rows:
        return
    names = ", ".join(["k", *(f'"{c}"' for c in columns)])
    sets = ", ".join(f'"{column}" = v."{column}"' for column in columns)
    if conn.capabilities.dialect == "postgres":
        arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(["bigint", *columns.values()]))
        await conn.execute_query(
            f'UPDATE "{table}" SET {sets} FROM unnest({arrays}) AS v({names}) '
            f'WHERE "{table}"."{key}" = v.k',
            [list(column) for column in zip(*rows, strict=True)])
        return
    marks = ", ".join("(" + ", ".join("?" * (len(columns) + 1)) + ")" for _ in rows)
    await conn.execute_query(
        f'WITH v({names}) AS (VALUES {marks}) UPDATE "{table}" SET {sets} '
        f'FROM v WHERE "{table}"."{key}" = v.k',
        [value for row in rows for value in row])
