"""Benchmark: closing a certification period of 1,000,000 activities.

    .venv/bin/python -m bench.certification_bench [--activities 1000000] [--players 50000]
        [--database-url postgres://postgres@127.0.0.1:5432/carbon_certbench]

On a new database (a temporary SQLite file, or the PostgreSQL database named in the URL,
dropped and created afresh), generates the players, then the activities of one month
with one `INSERT … SELECT` over a generated series (accepted metro and bus trips, every
hundredth one rejected, plus a few hundred of the next month that must stay out), and
times, in one run:

- the floor: the same month's rows with their running sum of grams copied by one
  `INSERT … SELECT` into an unindexed temporary table (what allocating serials costs
  without the certified_activity table's keys, the manifest, the hash or the ledger);
- the close (`app.certification.service.close_period`, what the CLI and GraphQL run);
- a second close after 1,000 late records: a supplementary batch next to a million
  certified rows.

Prints activities/s and seconds for each, the ratio close/floor, and checks the batch:
grams = the sum over its activities = serials issued, and nothing of the next month or of
the rejected records sealed; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.transactions import in_transaction

from bench.database import bench_database

TRAVEL = "cn-low-carbon-travel"
TZ = ZoneInfo("Asia/Shanghai")
STEP_SECONDS = 2  # activity i happens i × 2 s after the month's first local midnight

SQLITE_ACTIVITIES = """
WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last})
INSERT INTO activity (id, player_id, kind, source, occurred_at, ended_at, local_date,
  distance_meters, steps, reduction_grams, points, growth, energy, status, reject_reason,
  reject_message, methodology_id, methodology_version, provenance, created_at, updated_at)
SELECT printf('%08x-0000-4000-8000-%012x', n.i, n.i), p.id,
  CASE n.i % 3 WHEN 0 THEN 'bus' ELSE 'metro' END,
  CASE n.i % 3 WHEN 0 THEN 'partner:bench-bus' ELSE 'partner:bench-metro' END,
  datetime('{start}', '+' || ({offset} + n.i * {step}) || ' seconds') || '+00:00', NULL,
  date('{local_start}', '+' || ({offset} + n.i * {step}) || ' seconds'),
  5000 + n.i % 7000, NULL, 20 + n.i % 150, (20 + n.i % 150) / 8, 20 + n.i % 150, 0,
  CASE WHEN n.i % 100 = 99 THEN 'rejected' ELSE 'accepted' END, NULL, NULL,
  '{methodology}', 1, '{{}}',
  datetime('{start}', '+' || ({offset} + n.i * {step}) || ' seconds') || '+00:00',
  datetime('{start}', '+' || ({offset} + n.i * {step}) || ' seconds') || '+00:00'
FROM n JOIN bench_player p ON p.n = n.i % {players}
"""

PG_ACTIVITIES = """
INSERT INTO activity (id, player_id, kind, source, occurred_at, ended_at, local_date,
  distance_meters, steps, reduction_grams, points, growth, energy, status, reject_reason,
  reject_message, methodology_id, methodology_version, provenance, created_at, updated_at)
SELECT (lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, p.id,
  CASE i % 3 WHEN 0 THEN 'bus' ELSE 'metro' END,
  CASE i % 3 WHEN 0 THEN 'partner:bench-bus' ELSE 'partner:bench-metro' END,
  t.at, NULL, (t.at AT TIME ZONE 'Asia/Shanghai')::date,
  5000 + i % 7000, NULL, 20 + i % 150, (20 + i % 150) / 8, 20 + i % 150, 0,
  CASE WHEN i % 100 = 99 THEN 'rejected' ELSE 'accepted' END, NULL, NULL,
  '{methodology}', 1, '{{}}', t.at, t.at
FROM generate_series({first}, {last}) AS i
CROSS JOIN LATERAL (SELECT TIMESTAMPTZ '{start}+00' + make_interval(secs => {offset} + i * {step})
                    AS at) t
JOIN bench_player p ON p.n = i % {players}
"""

FLOOR = """
CREATE TEMPORARY TABLE floor_serials AS
SELECT s.id, s.player_id, s.g, s.cum - s.g + 1 AS first_serial, s.cum AS last_serial
FROM (SELECT a.id, a.player_id, a.reduction_grams AS g,
             SUM(a.reduction_grams) OVER (ORDER BY a.occurred_at, a.id
                                          ROWS UNBOUNDED PRECEDING) AS cum
      FROM activity a
      WHERE a.methodology_id = '{methodology}' AND a.methodology_version = 1
        AND a.local_date >= '{since}' AND a.local_date < '{until}'
        AND a.status = 'accepted' AND a.reduction_grams > 0) s
"""


def month_back(months: int) -> date:
    today = datetime.now(TZ).date()
    year, month = today.year, today.month - months
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


async def generate(conn, postgres: bool, players: int, first: int, last: int, month: date,
                   offset: int = 0) -> None:
    local_start = datetime(month.year, month.month, 1, tzinfo=TZ)
    start = local_start.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S")
    template = PG_ACTIVITIES if postgres else SQLITE_ACTIVITIES
    await conn.execute_script(template.format(
        first=first, last=last, start=start, local_start=month.isoformat(), offset=offset,
        step=STEP_SECONDS, players=players, methodology=TRAVEL))


async def make_players(conn, postgres: bool, count: int) -> None:
    from app.accounts.models import Player

    now = datetime.now(ZoneInfo("UTC"))
    ids = [uuid.uuid4() for _ in range(count)]
    districts = ["Futian", "Nanshan", "Luohu", "Bao'an", "Longgang", "Longhua"]
    await Player.bulk_create([Player(id=i, nickname=f"bench{n}", city=districts[n % 6],
                                     roles=[], created_at=now, updated_at=now)
                              for n, i in enumerate(ids)], batch_size=5000)
    await conn.execute_script("CREATE TABLE bench_player (n integer primary key, id "
                              + ("uuid" if postgres else "char(36)") + ")")
    marks = "$1, $2" if postgres else "?, ?"
    await conn.execute_many(f"INSERT INTO bench_player (n, id) VALUES ({marks})",
                            [[n, str(i)] for n, i in enumerate(ids)])


async def scalar(conn, sql: str) -> int:
    _, rows = await conn.execute_query(sql)
    return int(rows[0][0] or 0)


async def run(args: argparse.Namespace) -> int:
    from app.certification import service
    from methodology import default_registry

    async with bench_database(args.database_url, "certbench-") as postgres:
        conn = connections.get("default")
        month = month_back(2)
        next_month = month_back(1)
        period = month.strftime("%Y-%m")
        started = time.perf_counter()
        await make_players(conn, postgres, args.players)
        await generate(conn, postgres, args.players, 0, args.activities - 1, month)
        await generate(conn, postgres, args.players, args.activities, args.activities + 299,
                       next_month)  # the next month's: must stay out
        await conn.execute_script("ANALYZE")
        made = await scalar(conn, "SELECT COUNT(*) FROM activity")
        print(f"database: {'PostgreSQL' if postgres else 'SQLite'}; generated {made:,} activities "
              f"for {args.players:,} players in {time.perf_counter() - started:.1f} s")
        expected_n = await scalar(conn, f"SELECT COUNT(*) FROM activity WHERE status = 'accepted' "
                                        f"AND local_date < '{next_month.isoformat()}'")
        expected_g = await scalar(conn, "SELECT SUM(reduction_grams) FROM activity WHERE status = "
                                        f"'accepted' AND local_date < '{next_month.isoformat()}'")

        t0 = time.perf_counter()
        async with in_transaction():
            await connections.get("default").execute_script(FLOOR.format(
                methodology=TRAVEL, since=month.isoformat(), until=next_month.isoformat()))
        floor = time.perf_counter() - t0

        def progress(stage: str) -> None:
            if args.verbose:
                print(f"  {time.perf_counter() - t0:7.1f} s  {stage}")

        t0 = time.perf_counter()
        result = await service.close_period(period, TRAVEL, 1, "bench", f"bench:{period}:1",
                                            timezone="Asia/Shanghai", serial_city="SZ",
                                            methodologies=default_registry(), progress=progress)
        closed = time.perf_counter() - t0
        batch = result.batch
        sealed_sum = await scalar(conn, "SELECT SUM(grams) FROM certified_activity WHERE batch_id = "
                                        f"{batch.id}")
        checks = {
            "activities sealed = accepted of the month": batch.activity_count == expected_n,
            "batch grams = sum over its activities": batch.grams == sealed_sum == expected_g,
            "serials issued = grams": batch.last_serial - batch.first_serial + 1 == batch.grams,
        }

        await generate(conn, postgres, args.players, args.activities + 300,
                       args.activities + 1299, month, offset=-(args.activities + 300) * STEP_SECONDS)
        t1 = time.perf_counter()
        late = await service.close_period(period, TRAVEL, 1, "bench", f"bench:{period}:2",
                                          timezone="Asia/Shanghai", serial_city="SZ",
                                          methodologies=default_registry())
        supplementary = time.perf_counter() - t1
        late_accepted = sum(1 for i in range(args.activities + 300, args.activities + 1300)
                            if i % 100 != 99)
        checks["late records: a supplementary batch, serials continuing"] = (
            late.batch.kind == "supplementary" and late.batch.first_serial == batch.last_serial + 1
            and late.batch.activity_count == late_accepted)

        n = batch.activity_count
        print(f"floor (INSERT … SELECT with running sum, unindexed temp table): {floor:6.2f} s  "
              f"{expected_n / floor:>10,.0f} activities/s")
        print(f"close {period} ({batch.code}): {closed:6.2f} s  {n / closed:>10,.0f} activities/s  "
              f"close/floor {closed / floor:.1f}×")
        print(f"  sealed {n:,} activities, {batch.grams:,} g, serials "
              f"{batch.first_serial:,}..{batch.last_serial:,}, {batch.participants:,} participants")
        print(f"supplementary close next to them ({late.batch.code}, {late.batch.activity_count:,} "
              f"activities): {supplementary:.2f} s")
        for name, ok in checks.items():
            print(f"  {'ok  ' if ok else 'FAIL'} {name}")
        return 0 if all(checks.values()) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--players", type=int, default=50_000)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL URL (its database is dropped and created afresh); "
                             "default: a temporary SQLite file")
    parser.add_argument("--verbose", action="store_true", help="Print the close's stages.")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
