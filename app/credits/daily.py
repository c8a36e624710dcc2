"""Locking players' per-day, per-kind credited totals for the length of a transaction."""

from __future__ import annotations

from datetime import date

from tortoise import connections

from app.credits.models import DailyCredit
from app.database import row_date

DailyKey = tuple[str, date, str]  # (player id, local date, kind)


async def lock_dailies(keys: list[DailyKey]) -> dict[DailyKey, DailyCredit]:
    """The (player, day, kind) totals rows, created if new and locked until the transaction
    ends: one upsert, whose DO UPDATE takes the row locks in key order, so concurrent
    batches cannot deadlock on them (SQLite runs one writer at a time)."""
    ordered = sorted({(str(p), d, k) for p, d, k in keys})
    if not ordered:  # a batch that credits nothing (SQLite has no empty VALUES list)
        return {}
    conn = connections.get("default")
    upsert = ("INSERT INTO daily_credit (player_id, local_date, kind, reduction_grams, points, "
              "growth, energy, steps) {rows} ON CONFLICT (player_id, local_date, kind) "
              "DO UPDATE SET kind = EXCLUDED.kind RETURNING *")
    if conn.capabilities.dialect == "postgres":  # one statement text for any batch size
        rows = await conn.execute_query_dict(
            upsert.format(rows="SELECT p, d, k, 0, 0, 0, 0, 0 FROM unnest($1::uuid[], $2::date[], "
                               "$3::text[]) WITH ORDINALITY AS v(p, d, k, i) ORDER BY i"),
            [[p for p, _, _ in ordered], [d for _, d, _ in ordered], [k for _, _, k in ordered]])
    else:
        rows = await conn.execute_query_dict(
            upsert.format(rows="VALUES " + ", ".join("(?, ?, ?, 0, 0, 0, 0, 0)" for _ in ordered)),
            [v for p, d, k in ordered for v in (p, d.isoformat(), k)])
    found = [DailyCredit._init_from_db(**row) for row in rows]
    return {(str(d.player_id), row_date(d.local_date), d.kind): d for d in found}


async def lock_daily(player_id: str, local_date: date, kind: str) -> DailyCredit:
    """One (player, day, kind) totals row, locked (see `lock_dailies`)."""
    return (await lock_dailies([(player_id, local_date, kind)]))[(str(player_id), local_date, kind)]
