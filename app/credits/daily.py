"""Locking players' per-day, per-kind credited totals for the length of a transaction."""

from __future__ import annotations

from datetime import date

from tortoise import connections

from app.credits.models import DailyCredit
from app.database import dialect_sql

DailyKey = tuple[str, date, str]  # (player id, local date, kind)


async def lock_dailies(keys: list[DailyKey]) -> dict[DailyKey, DailyCredit]:
    """The (player, day, kind) totals rows, created if new and locked until the transaction
    ends: one upsert, whose DO UPDATE takes the row locks in key order, so concurrent
    batches cannot deadlock on them (SQLite runs one writer at a time)."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    ordered = sorted({(str(p), d, k) for p, d, k in keys})
    values = ", ".join(f"({{{3 * i + 1}}}, {{{3 * i + 2}}}, {{{3 * i + 3}}}, 0, 0, 0, 0, 0)"
                       for i in range(len(ordered)))
    rows = await conn.execute_query_dict(
        dialect_sql(conn, "INSERT INTO daily_credit (player_id, local_date, kind, reduction_grams, "
                    f"points, growth, energy, steps) VALUES {values} "
                    "ON CONFLICT (player_id, local_date, kind) DO UPDATE SET kind = EXCLUDED.kind "
                    "RETURNING *", 3 * len(ordered)),
        [v for p, d, k in ordered for v in (p, d if postgres else d.isoformat(), k)],
    )
    found = [DailyCredit._init_from_db(**row) for row in rows]
    return {(str(d.player_id), _as_date(d.local_date), d.kind): d for d in found}


async def lock_daily(player_id: str, local_date: date, kind: str) -> DailyCredit:
    """One (player, day, kind) totals row, locked (see `lock_dailies`)."""
    return (await lock_dailies([(player_id, local_date, kind)]))[(str(player_id), local_date, kind)]


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
