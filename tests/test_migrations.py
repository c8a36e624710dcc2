"""The models and the migrations in `migrations/` agree."""

from __future__ import annotations

from tortoise import connections

from app import database


async def test_no_model_change_lacks_a_migration(settings):
    assert await database.pending_model_changes(settings) == []


async def test_migrations_created_every_model_table(app):
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    existing = {row["name"] for row in (await conn.execute_query(sql))[1]}
    assert set(database.model_tables()) <= existing
    assert "tortoise_migrations" in existing


async def test_migrate_twice_is_a_no_op(settings):
    await database.migrate(settings)
    await database.migrate(settings)


def test_no_model_docstring_has_a_semicolon(app):
    """Tortoise's SQLite schema editor splits on ';' and would break on a table comment."""
    from tortoise import Tortoise

    offenders = [m.__name__ for m in Tortoise.apps.get_models_iterable() if ";" in (m.__doc__ or "")]
    assert offenders == []
