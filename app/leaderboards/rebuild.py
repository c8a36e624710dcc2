"""Rebuild every leaderboard from the ledger (the source of truth).

Deletes all `lb:*` keys (SCAN + UNLINK; on Redis Cluster redis-py scans every primary and
splits UNLINK by slot), then sums every CO2E_GRAMS ledger line of each player account per
board, keeping the latest `created_at` as the tie-break, exactly as the live increment
script does line by line (it keeps the latest time, so the order of the lines does not
matter), and writes each board with ZADD. The result equals the boards recorded live.

Notes: the player's *current* city is used for the CITY boards, and closed accounts are
left out (they left every board when closed); boards whose expiry has
already passed are not recreated; activities recorded live while a rebuild runs may be
lost or counted twice — run it with ingestion paused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from tortoise import connections

from app.accounts.models import Player
from app.clock import utcnow
from app.database import dialect_sql
from app.leaderboards import keys as K
from app.leaderboards.boards import Leaderboards
from app.ledger.models import LedgerAccount
from app.ledger.service import Asset

BATCH = 5000  # players per batch
PLAYER_PREFIX = "player:"
LIMIT = 9007199254740992.0  # 2**53, as in the increment script
# ZADD a board's members from one "score member\nscore member…" string: packing millions
# of separate arguments costs redis-py far more than Redis takes to split one string
ZADD_LUA = """
local args = {}
for score, member in string.gmatch(ARGV[1], '([^ \\n]+) ([^\\n]+)') do
  args[#args + 1] = score
  args[#args + 1] = member
  if #args >= 1000 then
    redis.call('ZADD', KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then redis.call('ZADD', KEYS[1], unpack(args)) end
return 1
"""


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


def live_periods(boards: Leaderboards, at: datetime, now: int, expiring: dict[str, int]) -> list[str]:
    """The period ids (`d:…`, `w:…`, `m:…`, `all`) of the boards a line at `at` counts on,
    leaving out periods already expired; notes when each board of those periods expires."""
    periods = []
    for pid, expire in boards.periods_for(at):
        if expire is not None and expire <= now:
            continue
        periods.append(pid)
        if expire is not None:
            expiring[pid] = expire
    return periods


def _final_score(grams: int, k: int) -> float:
    """What the increment script leaves after all of a player's activities on one board:
    the summed grams, the latest time (smallest k), coarsened as the script coarsens it."""
    if grams < K.MAX_EXACT_GRAMS:  # the common case: nothing to coarsen
        return (grams * K.TIE_SCALE + k) / K.TIE_SCALE
    unit = 1.0
    while (grams + 1) * K.TIE_SCALE > LIMIT * unit:
        unit *= 2
    k = int(k // unit * unit)
    return (grams * K.TIE_SCALE + k) / K.TIE_SCALE


async def rebuild_from_ledger(redis, timezone: str,
                              progress: Callable[[int, int], object] | None = None,
                              batch_size: int = BATCH) -> int:
    """Recompute all boards from the ledger; returns the number of ledger lines processed.

    Players are taken a batch at a time (their CO2e accounts in id order), so each
    player's lines are all in one batch: the batch's totals per board are final and go
    to Redis as one ZADD per board (pipelined), not one script call per line."""
    boards = Leaderboards(redis, timezone)
    await delete_all_boards(redis)
    # every account keeps its line count: summing those reads the accounts, not the lines
    conn = connections.get("default")
    _, counted = await conn.execute_query(
        dialect_sql(conn, "SELECT SUM(line_count) FROM ledger_account WHERE asset = {1} "
                          f"AND owner LIKE '{PLAYER_PREFIX}%'"), [Asset.CO2E_GRAMS.value])
    total = int(counted[0][0] or 0)
    done, last_account = 0, 0
    now = int(utcnow().timestamp())
    if progress is not None:
        progress(0, total)
    expiring: dict[str, int] = {}  # period id -> when its boards expire
    written: dict[str, set[str]] = defaultdict(set)  # period id -> its board keys
    periods_of_slot: dict[int, list[str]] = {}
    load = redis.register_script(ZADD_LUA)
    sending: asyncio.Future | None = None
    while True:
        accounts = await (LedgerAccount.filter(asset=Asset.CO2E_GRAMS.value,
                                               owner__startswith=PLAYER_PREFIX,
                                               id__gt=last_account)
                          .order_by("id").limit(batch_size).values_list("id", "owner"))
        if not accounts:
            break
        last_account = accounts[-1][0]
        owner_of = {acc_id: owner.removeprefix(PLAYER_PREFIX) for acc_id, owner in accounts}
        valid = []
        for pid in owner_of.values():
            try:
                valid.append(uuid.UUID(pid))
            except ValueError:
                pass
        # PostgreSQL: one array parameter plans far faster than thousands of IN parameters
        if conn.capabilities.dialect == "postgres":
            _, found = await conn.execute_query(
                "SELECT id, city, closed_at FROM player WHERE id = ANY($1::uuid[])", [valid])
        else:
            found = await Player.filter(id__in=valid).values_list("id", "city", "closed_at")
        cities = {str(pid): city for pid, city, _ in found}
        closed = {str(pid) for pid, _, closed_at in found if closed_at is not None}
        # a range on the (account, seq) index: an IN list of thousands of ids gets a
        # sequential scan of the whole ledger from PostgreSQL's planner
        _, rows = await conn.execute_query(
            dialect_sql(conn, "SELECT account_id, amount, created_at FROM ledger_line "
                              "WHERE account_id >= {1} AND account_id <= {2} AND asset = {3}"),
            [accounts[0][0], last_account, Asset.CO2E_GRAMS.value])
        # a closed account's lines stay in the ledger but count on no board
        lines = [(r[0], r[1], r[2]) for r in rows
                 if r[0] in owner_of and owner_of[r[0]] not in closed]
        # per period (a DAY, WEEK, MONTH or ALL_TIME board id): member -> [grams, k]. A
        # player's GLOBAL and CITY boards of one period hold the same total, so each line
        # is added once per period, not once per board, and each entry is formatted once.
        totals: dict[str, dict[str, list[int]]] = defaultdict(dict)
        for acc_id, amount, at in lines:
            grams = int(amount)
            if grams <= 0:
                continue
            if isinstance(at, str):  # SQLite hands back text
                at = datetime.fromisoformat(at)
            if at.tzinfo is None:  # stored in UTC (use_tz); be safe with naive values
                at = at.replace(tzinfo=UTC)
            # every real zone offset is a multiple of 15 minutes, so all the moments of a
            # 15-minute UTC slot fall in the same local day, week and month
            slot = int(at.timestamp()) // 900
            periods = periods_of_slot.get(slot)
            if periods is None:
                periods = periods_of_slot[slot] = live_periods(boards, at, now, expiring)
            pid = owner_of[acc_id]
            k = K.tie_units(at)
            for period in periods:
                entry = totals[period].get(pid)
                if entry is None:
                    totals[period][pid] = [grams, k]
                else:
                    entry[0] += grams
                    if k < entry[1]:
                        entry[1] = k
        if sending is not None:  # Redis works on one batch while Python sums the next
            await sending
        pipe = redis.pipeline(transaction=False)
        for period, members in totals.items():  # one script call per board and batch
            entries: dict[str | None, list[str]] = defaultdict(list)  # city -> "score member"
            for pid, (g, k) in members.items():
                entries[cities.get(pid)].append(f"{_final_score(g, k)!r} {pid}")
            everyone = [line for city_entries in entries.values() for line in city_entries]
            await load(keys=[K.global_key(period)], args=["\n".join(everyone)], client=pipe)
            written[period].add(K.global_key(period))
            for city, city_entries in entries.items():
                if city:
                    await load(keys=[K.city_key(city, period)], args=["\n".join(city_entries)],
                               client=pipe)
                    written[period].add(K.city_key(city, period))
        sending = asyncio.ensure_future(pipe.execute())
        done += len(lines)
        if progress is not None:
            progress(done, max(total, done))
    if sending is not None:
        await sending
    if expiring:
        async with redis.pipeline(transaction=False) as pipe:
            for period, expire in expiring.items():
                for key in written[period]:
                    pipe.expireat(key, expire)
            await pipe.execute()
    return done
