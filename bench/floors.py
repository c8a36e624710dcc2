"""The floors the city benchmark compares against, measured in the same run.

- **Python floor** (`app` below, served by uvicorn like the API): the home screen's three
  reads as plain Starlette endpoints with no GraphQL, doing the same work as the resolvers
  (token check with the session read, planet state with the progress bars, balances, the
  weekly city board: top 10, me, around, nicknames) through the same services and ORM.
      GET /home/planet   /home/balances   /home/leaderboard?scope=CITY&period=WEEK&first=10
- **Database floor**: `pgbench` running `bench/ingest_tx.sql`, the SQL of one ingestion
  transaction (see that file for what it reproduces and how it differs), on a copy of the
  bench database made for the run (`CREATE DATABASE … TEMPLATE`) and dropped after, so
  the bench data stays valid for `ledger verify`.
- **Redis floor**: `redis-benchmark` on ZREVRANGE top 10 of the weekly board, and a
  pipelined client doing a whole "top 10 + me + around" read in 2 round trips (one pipeline
  of ZREVRANGE 0 9, ZREVRANK, ZSCORE; then ZREVRANGE around the rank) where the app's
  `Leaderboards` takes 4.

    .venv/bin/python -m bench.floors capture-ingest   # print the live SQL of one ingestion
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import resource
import subprocess
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
INGEST_SQL = ROOT / "bench" / "ingest_tx.sql"  # one record per transaction
INGEST_BATCH_SQL = ROOT / "bench" / "ingest_batch_tx.sql"  # a batch of 100 records per transaction


# --- the Python floor: bare Starlette, same reads as the home screen --------------------------

def _floor_app() -> Starlette:
    from tortoise.contrib.starlette import RegisterTortoise

    from app import database
    from app.accounts.models import Player
    from app.auth.sessions import AuthenticationError, Sessions
    from app.leaderboards.boards import Leaderboards
    from app.ledger import service as ledger
    from app.planet import service as planet
    from app.redis import create_redis
    from app.server import settle_garbage_collector
    from app.settings import get_settings
    from game.engine import progress
    from game.rules import default_rules

    settings = get_settings()
    sessions = Sessions(settings)
    rules = default_rules()
    zone = ZoneInfo(settings.default_timezone)
    state: dict = {}

    async def caller(request: Request):
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            return (await sessions.authenticate(token))[1]
        except AuthenticationError as exc:
            return JSONResponse({"errors": [{"message": str(exc)}]}, status_code=401)

    async def planet_view(request: Request) -> JSONResponse:
        player = await caller(request)
        if isinstance(player, JSONResponse):
            return player
        st, active = await planet.planet_state(str(player.id))
        today = datetime.now(zone).date()
        themes = []
        for t in sorted(rules.themes, key=lambda t: t.order):
            bars = [progress(st, r, rules, today) for r in t.requirements]
            themes.append({"id": t.id, "name": t.name, "nameEn": t.name_en,
                           "unlocked": t.id in st.unlocked, "unlockedAt": st.unlocked.get(t.id),
                           "requirements": [{"description": b.description, "progress": b.progress,
                                             "target": b.target, "met": b.met} for b in bars]})
        eggs_by_id = {e.id: e for e in rules.eggs}
        eggs = [{"id": egg_id, "themeId": eggs_by_id[egg_id].theme, "name": eggs_by_id[egg_id].name,
                 "foundAt": at} for egg_id, at in st.eggs.items() if egg_id in eggs_by_id]
        later = [g for g in rules.levels if g > st.growth]
        return JSONResponse({"data": {"me": {"planet": {
            "level": st.level, "growth": st.growth, "nextLevelGrowth": later[0] if later else None,
            "activeTheme": {"id": active} if active else None, "themes": themes, "eggs": eggs}}}})

    async def balances_view(request: Request) -> JSONResponse:
        player = await caller(request)
        if isinstance(player, JSONResponse):
            return player
        found = await ledger.balances(str(player.id))
        return JSONResponse({"data": {"me": {"balances": {
            "carbonPoints": found[ledger.Asset.CARBON_POINT], "growth": found[ledger.Asset.GROWTH],
            "energy": found[ledger.Asset.ENERGY], "reductionGrams": found[ledger.Asset.CO2E_GRAMS]}}}})

    async def entries(rows) -> list[dict]:
        players = {str(p.id): p for p in await Player.filter(id__in=[r.player_id for r in rows])}
        return [{"rank": r.rank, "score": r.score,
                 "player": {"id": r.player_id, "nickname": players[r.player_id].nickname}}
                for r in rows if r.player_id in players]

    async def leaderboard_view(request: Request) -> JSONResponse:
        player = await caller(request)
        if isinstance(player, JSONResponse):
            return player
        scope = request.query_params.get("scope", "CITY")
        period = request.query_params.get("period", "WEEK")
        first = int(request.query_params.get("first", "10"))
        boards: Leaderboards = state["boards"]
        where = {"city": player.city, "friend_ids": None}
        top = await boards.top(scope, period, first, **where)
        mine = await boards.me(str(player.id), scope, period, **where)
        around = await boards.around(str(player.id), scope, period, **where)
        return JSONResponse({"data": {"leaderboard": {
            "entries": await entries(top),
            "me": {"rank": mine.rank if mine else None, "score": mine.score if mine else 0},
            "around": await entries(around)}}})

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        redis = create_redis(settings)
        state["boards"] = Leaderboards(redis, settings.default_timezone)
        async with RegisterTortoise(app, config=database.tortoise_config(settings)):
            settle_garbage_collector()  # as the API's workers do
            yield
        await redis.aclose()

    return Starlette(routes=[Route("/home/planet", planet_view), Route("/home/balances", balances_view),
                             Route("/home/leaderboard", leaderboard_view), Route("/healthz", healthz)],
                     lifespan=lifespan)


def app_factory() -> Starlette:
    """For uvicorn: `uvicorn bench.floors:app_factory --factory --workers N`."""
    return _floor_app()


HOME_PATHS = ("/home/planet", "/home/balances",
              "/home/leaderboard?scope=CITY&period=WEEK&first=10")


def floor_home_sender(city):
    """Request i is endpoint i % 3 for player i // 3, like `bench.load.home_sender`."""
    import json

    async def send(conn, i: int):
        token = city.tokens[(i // 3) % len(city.tokens)]
        status, body = await conn.request("GET", HOME_PATHS[i % 3], {"Authorization": f"Bearer {token}"})
        if status != 200:
            return False, 1, f"HTTP {status}: {body[:200]!r}"
        json.loads(body)
        return True, 1, None

    return send


# --- the database floor: pgbench ---------------------------------------------------------------

async def clone_database(url: str, clone: str) -> float:
    import asyncpg

    from bench.generate_city import asyncpg_dsn, db_name, with_database

    admin = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        t0 = time.perf_counter()
        await admin.execute(f'DROP DATABASE IF EXISTS "{clone}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{clone}" TEMPLATE "{db_name(url)}"')
        elapsed = time.perf_counter() - t0
    finally:
        await admin.close()
    # fresh planner statistics, as autovacuum keeps them for the app's database: without
    # them a table the benchmark has just grown (daily_credit) is taken for empty
    copy = await asyncpg.connect(asyncpg_dsn(with_database(url, clone)))
    try:
        await copy.execute("ANALYZE")
        # the copy wrote the whole database through the WAL: flush it now, or pgbench pays
        # for that checkpoint (one run measured the batch floor at 1,266 records/s, p95 1.3 s)
        await copy.execute("CHECKPOINT")
    finally:
        await copy.close()
    return elapsed


async def drop_database(url: str, name: str) -> None:
    import asyncpg

    from bench.generate_city import asyncpg_dsn, with_database

    admin = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def pgbench(url: str, players: int, clients: int, seconds: int, threads: int = 2,
            script: Path = INGEST_SQL) -> dict:
    """Run the ingestion script; returns tps and latency percentiles (ms) from the per-
    transaction log."""
    import tempfile
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    logdir = Path(tempfile.mkdtemp(prefix="pgbench-"))
    args = ["pgbench", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
            "-U", parts.username or "postgres", "-n", "-c", str(clients), "-j", str(min(threads, clients)),
            "-T", str(seconds), "-f", str(script), "-D", f"players={players}",
            "-l", "--log-prefix", str(logdir / "tx"), parts.path.lstrip("/")]
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    busy, client = _busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    pgbench_cpu = (after.ru_utime - client.ru_utime) + (after.ru_stime - client.ru_stime)
    # PostgreSQL's backends exit with pgbench, taking their CPU counters with them: what
    # the machine was busy with, less pgbench itself, is the database (the machine is
    # otherwise idle between scenarios)
    database_cpu = _busy_seconds() - busy - pgbench_cpu
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    latencies = []
    for log in logdir.glob("tx*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)  # microseconds -> ms
    latencies.sort()
    from bench.load import percentile

    transactions = max(1.0, tps * seconds)
    return {"tps": tps, "clients": clients, "seconds": seconds,
            "database_cpu_ms_per_tx": round(1000 * database_cpu / transactions, 1),
            "pgbench_cpu_ms_per_tx": round(1000 * pgbench_cpu / transactions, 1),
            "failed": int(failed.group(1)) if failed else 0, "transactions": len(latencies),
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99), "output": out.stdout}


# --- the Redis floor ---------------------------------------------------------------------------

def redis_benchmark(redis_url: str, key: str, requests: int, clients: int) -> dict:
    """redis-benchmark: ZREVRANGE key 0 9 WITHSCORES (the top 10), one command per round trip."""
    from urllib.parse import urlsplit

    parts = urlsplit(redis_url)
    db = (parts.path.lstrip("/") or "0")
    args = ["redis-benchmark", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379),
            "--dbnum", db, "-n", str(requests), "-c", str(clients), "--csv",
            "ZREVRANGE", key, "0", "9", "WITHSCORES"]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    header = [h.strip('"') for h in lines[0].split(",")]
    values = [v.strip('"') for v in lines[-1].split(",")]
    row = dict(zip(header, values))
    return {"rps": float(row["rps"]), "p50_ms": float(row["p50_latency_ms"]),
            "p95_ms": float(row["p95_latency_ms"]), "p99_ms": float(row["p99_latency_ms"]),
            "clients": clients, "requests": requests}


async def redis_pipelined_reads(redis_url: str, key: str, members: list[str], requests: int,
                                concurrency: int, seconds: float):
    """Top 10 + me + around in 2 round trips per read (the least the commands need)."""
    from redis.asyncio import Redis

    from bench.load import Result

    redis = Redis.from_url(redis_url, decode_responses=True, max_connections=concurrency * 2)
    result = Result("Redis floor: top 10 + me + around, pipelined")
    numbers = iter(range(requests))
    rng = random.Random(11)
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        for _ in numbers:
            if time.perf_counter() > deadline:
                break
            member = members[rng.randrange(len(members))]
            t0 = time.perf_counter()
            async with redis.pipeline(transaction=False) as pipe:
                pipe.zrevrange(key, 0, 9, withscores=True)
                pipe.zrevrank(key, member)
                pipe.zscore(key, member)
                top, rank, _ = await pipe.execute()
            if rank is not None:
                await redis.zrevrange(key, max(0, rank - 2), rank + 2, withscores=True)
            result.latencies.append(time.perf_counter() - t0)
            result.count += 1
            if rank is None or not top:
                result.errors += 1

    for _ in range(200):
        await redis.zrevrange(key, 0, 9)
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    await redis.aclose()
    return result


# --- capture: the live SQL of one ingestion ---------------------------------------------------

async def capture_ingest(database_url: str, redis_url: str) -> list[tuple[str, str]]:
    """Ingest one metro record for a bench player through the app's own `Ingestor` and
    return every statement it sent (method, SQL). Writes one record: use a copy."""
    import asyncpg
    from tortoise import Tortoise

    from app import database
    from app.services import Services
    from app.settings import Settings
    from bench.generate_city import asyncpg_dsn

    captured: list[tuple[str, str]] = []
    originals = {}
    for name in ("execute", "fetch", "fetchrow", "fetchval", "executemany"):
        originals[name] = getattr(asyncpg.connection.Connection, name)

        def wrap(orig, name=name):
            async def call(self, query, *args, **kw):
                captured.append((name, query))
                return await orig(self, query, *args, **kw)
            return call

        setattr(asyncpg.connection.Connection, name, wrap(originals[name]))
    try:
        # In-process fakeredis: the boards of the bench Redis are not touched.
        settings = Settings(_env_file=None, database_url=database_url, redis_url=None,
                            partners=[{"id": "capture", "name": "capture", "secrets": ["c" * 40]}])
        await Tortoise.init(config=database.tortoise_config(settings))
        services = Services.build(settings)
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        pid = str(await conn.fetchval("SELECT id FROM bench_player ORDER BY n DESC LIMIT 1"))
        await conn.close()
        from datetime import timedelta

        start = datetime.now(ZoneInfo(settings.default_timezone)) - timedelta(hours=2)
        record = {"id": f"capture-{time.time_ns()}", "subject": pid, "kind": "metro",
                  "startedAt": start.isoformat(), "endedAt": (start + timedelta(minutes=30)).isoformat(),
                  "distanceMeters": 12850}
        captured.clear()
        outcome = await services.ingestor.ingest_one("capture", record)
        result = list(captured)
        await services.close()
        await Tortoise.close_connections()
        if outcome.status != "accepted":
            raise RuntimeError(f"capture record not accepted: {outcome}")
        return result
    finally:
        for name, orig in originals.items():
            setattr(asyncpg.connection.Connection, name, orig)


def main() -> None:
    from bench.generate_city import DEFAULT_DB, DEFAULT_REDIS, db_name

    parser = argparse.ArgumentParser(description="Floors of the city benchmark (diagnostics).")
    parser.add_argument("command", choices=["capture-ingest", "pgbench", "pgbench-batch"])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=20)
    opts = parser.parse_args()
    clone = db_name(opts.database_url) + "_floor"
    clone_url = opts.database_url.rsplit("/", 1)[0] + "/" + clone
    asyncio.run(clone_database(opts.database_url, clone))
    try:
        if opts.command == "capture-ingest":
            statements = asyncio.run(capture_ingest(clone_url, opts.redis_url))
            for method, sql in statements:
                print(f"{method:11} {' '.join(sql.split())[:240]}")
            print(f"{len(statements)} statements (round trips) for one accepted record")
        else:
            async def count() -> int:
                import asyncpg

                from bench.generate_city import asyncpg_dsn
                conn = await asyncpg.connect(asyncpg_dsn(clone_url))
                try:
                    return await conn.fetchval("SELECT count(*) FROM bench_player")
                finally:
                    await conn.close()

            script = INGEST_BATCH_SQL if opts.command == "pgbench-batch" else INGEST_SQL
            r = pgbench(clone_url, asyncio.run(count()), opts.clients, opts.seconds, script=script)
            print(r.pop("output"))
            print(r)
    finally:
        asyncio.run(drop_database(opts.database_url, clone))


if __name__ == "__main__":
    main()
