"""Locking a player's per-day, per-kind credited totals for the length of a transaction."""

from __future__ import annotations

from datetime import date

from tortoise import connections

from app.credits.models import DailyCredit


async def lock_daily(player_id: str, local_date: date, kind: str) -> DailyCredit:
    """The (player, day, kind) totals row, created if new and locked until the transaction
    ends: one upsert, whose DO UPDATE takes the row lock (SQLite runs one writer at a time)."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    marks = ("$1", "$2", "$3") if postgres else ("?", "?", "?")
    rows = await conn.execute_query_dict(
        "INSERT INTO daily_credit (player_id, local_date, kind, reduction_grams, points, growth, "
        f"energy, steps) VALUES ({marks[0]}, {marks[1]}, {marks[2]}, 0, 0, 0, 0, 0) "
        "ON CONFLICT (player_id, local_date, kind) DO UPDATE SET kind = EXCLUDED.kind "
        "RETURNING *",
        [str(player_id), local_date if postgres else local_date.isoformat(), kind],
    )
    return DailyCredit._init_from_db(**rows[0])
