"""Rebuild every leaderboard from the ledger (the source of truth).

Deletes all `lb:*` keys (SCAN + UNLINK; on Redis Cluster redis-py scans every primary and
splits UNLINK by slot), then replays every CO2E_GRAMS ledger line of a player account,
streamed in id order in batches, through `Leaderboards.record` with the line's `created_at`
as the time. Because the increment keeps the latest time per player and board, the result
does not depend on replay order and equals the boards recorded live with the same lines.

Notes: the player's *current* city is used for the CITY boards; boards whose expiry has
already passed are not recreated; activities recorded live while a rebuild runs may be
lost or counted twice — run it with ingestion paused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC

from app.accounts.models import Player
from app.leaderboards.boards import Leaderboards
from app.ledger.models import LedgerLine
from app.ledger.service import Asset

BATCH = 5000
CONCURRENCY = 64
PLAYER_PREFIX = "player:"


async def delete_all_boards(redis, chunk: int = 500) -> int:
    """UNLINK every `lb:*` key; returns how many were removed."""
    removed = 0
    pending: list[str] = []
    async for key in redis.scan_iter(match="lb:*", count=1000):
        pending.append(key)
        if len(pending) >= chunk:
            removed += int(await redis.unlink(*pending) or 0)
            pending = []
    if pending:
        removed += int(await redis.unlink(*pending) or 0)
    return removed


def _lines():
    return LedgerLine.filter(asset=Asset.CO2E_GRAMS.value,
                             account__owner__startswith=PLAYER_PREFIX)


async def rebuild_from_ledger(redis, timezone: str,
                              progress: Callable[[int, int], object] | None = None,
                              batch_size: int = BATCH) -> int:
    """Recompute all boards from the ledger; returns the number of ledger lines processed."""
    boards = Leaderboards(redis, timezone)
    await delete_all_boards(redis)
    total = await _lines().count()
    done = 0
    last_id = 0
    if progress is not None:
        progress(0, total)
    while True:
        rows = await (_lines().filter(id__gt=last_id).order_by("id").limit(batch_size)
                      .values("id", "amount", "created_at", "account__owner"))
        if not rows:
            break
        last_id = rows[-1]["id"]
        player_ids = {r["account__owner"].removeprefix(PLAYER_PREFIX) for r in rows}
        valid = []
        for pid in player_ids:
            try:
                valid.append(uuid.UUID(pid))
            except ValueError:
                pass
        cities = {str(pid): city for pid, city in
                  await Player.filter(id__in=valid).values_list("id", "city")}
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def replay(row: dict, cities: dict = cities, semaphore=semaphore) -> None:
            pid = row["account__owner"].removeprefix(PLAYER_PREFIX)
            async with semaphore:
                at = row["created_at"]
                if at.tzinfo is None:  # stored in UTC (use_tz); be safe with naive values
                    at = at.replace(tzinfo=UTC)
                await boards.record(pid, cities.get(pid), int(row["amount"]), at)

        await asyncio.gather(*(replay(r) for r in rows))
        done += len(rows)
        if progress is not None:
            progress(done, max(total, done))
    return done
