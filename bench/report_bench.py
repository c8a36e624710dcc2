"""Benchmark: the regulator's report of a month of 1,000,000 activities.

    .venv/bin/python -m bench.report_bench [--activities 1000000] [--players 50000]
        [--database-url postgres://postgres@127.0.0.1:5432/carbon_reportbench]

On a new database (a temporary SQLite file, or the PostgreSQL database named in the URL,
dropped and created afresh), generates the players and a month of activities as the
certification benchmark does (`bench.certification_bench`), a ledger credit for each
accepted activity (a transaction naming the activity and the player's CO2e line), and
closes the month (a sealed batch). Then it times, in one run:

- the floor: one scan of the month's accepted activities (count, grams, distinct players);
- the month's report (`app.regulator.report.build_report`: what GraphQL, the console and
  the CLI run), by day, with the ledger check;
- the full participants table (pseudonyms of every participant);
- the year's report (twelve months, by month).

Prints seconds and the ratio to the floor for each, and checks that the report's totals
equal the ledger's; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime

from tortoise import connections

from bench.certification_bench import TRAVEL, generate, make_players, month_back, scalar
from bench.database import bench_database

ZONE = "Asia/Shanghai"
# One ledger account per player, one transaction per accepted activity (keyed and named
# as crediting does), and the player's CO2e line of it.
ACCOUNTS = """INSERT INTO ledger_account (owner, asset, balance, allow_negative, line_count,
  last_hash) SELECT 'player:' || {player_id}, 'CO2E_GRAMS', 0, {false}, 0, '' FROM bench_player"""
TRANSACTIONS = """INSERT INTO ledger_transaction (id, type, idempotency_key, reference, created_at)
  SELECT {uuid}, 'ACTIVITY_CREDIT', 'activity:' || {activity_id}, 'activity:' || {activity_id},
         a.created_at FROM activity a WHERE a.status = 'accepted'"""
LINES = """INSERT INTO ledger_line (transaction_id, account_id, seq, asset, amount, balance_after,
  created_at, hash)
  SELECT t.id, acc.id, ROW_NUMBER() OVER (ORDER BY a.id), 'CO2E_GRAMS', a.reduction_grams, 0,
         a.created_at, ''
  FROM activity a
  JOIN ledger_transaction t ON t.idempotency_key = 'activity:' || {activity_id}
  JOIN ledger_account acc ON acc.owner = 'player:' || {player_id_a} AND acc.asset = 'CO2E_GRAMS'
  WHERE a.status = 'accepted'"""
FLOOR = """SELECT COUNT(*) AS n, SUM(reduction_grams) AS g, COUNT(DISTINCT player_id) AS p
  FROM activity
  WHERE status = 'accepted' AND local_date >= '{since}' AND local_date <= '{until}'"""


async def ledger_credits(conn, postgres: bool) -> None:
    text = "::text" if postgres else ""
    await conn.execute_script(ACCOUNTS.format(player_id=f"id{text}",
                                              false="false" if postgres else "0"))
    uuid = ("gen_random_uuid()" if postgres else
            "lower(printf('%s-%s-4%s-8%s-%s', hex(randomblob(4)), hex(randomblob(2)), "
            "substr(hex(randomblob(2)), 2), substr(hex(randomblob(2)), 2), hex(randomblob(6))))")
    await conn.execute_script(TRANSACTIONS.format(uuid=uuid, activity_id=f"a.id{text}"))
    await conn.execute_script(LINES.format(activity_id=f"a.id{text}",
                                           player_id_a=f"a.player_id{text}"))


async def run(args: argparse.Namespace) -> int:
    from app.certification import service
    from app.regulator.report import build_report, participants, scope_of
    from methodology import default_registry

    async with bench_database(args.database_url, "reportbench-") as postgres:
        conn = connections.get("default")
        month = month_back(2)
        period = month.strftime("%Y-%m")
        started = time.perf_counter()
        await make_players(conn, postgres, args.players)
        await generate(conn, postgres, args.players, 0, args.activities - 1, month)
        await ledger_credits(conn, postgres)
        await conn.execute_script("ANALYZE")
        await service.close_period(period, TRAVEL, 1, "bench", f"bench:{period}", timezone=ZONE,
                                   serial_city="SZ", methodologies=default_registry())
        print(f"database: {'PostgreSQL' if postgres else 'SQLite'}; {args.activities:,} "
              f"activities of {period} for {args.players:,} players, their ledger credits and "
              f"a sealed batch made in {time.perf_counter() - started:.1f} s")

        scope = scope_of(period=period)
        t0 = time.perf_counter()
        _, rows = await conn.execute_query(FLOOR.format(since=scope.since, until=scope.until))
        floor = time.perf_counter() - t0
        floor_n = int(dict(rows[0])["n"])

        def timed_progress(label: str):
            def progress(done: int, total: int) -> None:
                if args.verbose:
                    print(f"  {label} {done}/{total}  {time.perf_counter() - t0:6.2f} s")
            return progress

        now = datetime.now(UTC)
        t0 = time.perf_counter()
        report = await build_report(scope, "bench-secret", ZONE, now, timed_progress(period))
        month_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        everyone = await participants(scope, report.pseudonym_key)
        people_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        year = await build_report(scope_of(year=month.year), "bench-secret", ZONE, now,
                                  timed_progress(str(month.year)))
        year_s = time.perf_counter() - t0

        accepted_g = await scalar(conn, "SELECT SUM(reduction_grams) FROM activity "
                                        "WHERE status = 'accepted'")
        checks = {
            "report activities = the floor's count": report.totals.activities == floor_n,
            "report grams = the ledger's credits": (report.totals.reduction_grams
                                                    == report.ledger.credited_grams == accepted_g),
            "certified grams = the ledger's certified inventory": (
                report.certified.net_grams == report.ledger.certified_grams == accepted_g),
            "the report says the totals equal the ledger": report.ledger_matches,
            "one pseudonym per participant": len(everyone) == report.totals.participants
                                             == len({p.pseudonym for p in everyone}),
            "the year's totals = the month's": (year.totals.reduction_grams
                                                == report.totals.reduction_grams
                                                and year.ledger_matches),
        }
        print(f"floor (one scan: count, grams, distinct players): {floor:6.2f} s")
        for label, seconds in ((f"report {period} (by day, ledger check)", month_s),
                               (f"participants table ({len(everyone):,} pseudonyms)", people_s),
                               (f"report {month.year} (12 months, by month)", year_s)):
            print(f"{label}: {seconds:6.2f} s  {floor_n / seconds:>10,.0f} activities/s  "
                  f"{seconds / floor:.1f}× the floor")
        for name, ok in checks.items():
            print(f"  {'ok  ' if ok else 'FAIL'} {name}")
        return 0 if all(checks.values()) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--players", type=int, default=50_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--verbose", action="store_true", help="print each step's progress")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
