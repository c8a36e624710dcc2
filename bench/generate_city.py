"""Load a whole city into PostgreSQL and Redis for the city-scale benchmark.

    .venv/bin/python -m bench.generate_city [--players 1000000 --lines 10000000
        --friends-per-player 5 --sessions 50000 --city shenzhen --seed 1 --workers 2]
        [--database-url postgres://postgres@127.0.0.1:5432/carbon_bench]
        [--redis-url redis://127.0.0.1:6379/7] [--reset] [--verify] [--summary FILE]

What it writes, with COPY (asyncpg `copy_records_to_table`) in chunks of players:

- `player`: every player in one city (the programme is a city's), role `player`;
- `planet`: each player's planet state, computed by the real game engine (`game.engine.apply`)
  over that player's generated activities, so levels, unlocks and eggs are what the rules say;
- `friendship`: `--friends-per-player` distinct random others per player;
- `ledger_account`, `ledger_transaction`, `ledger_line`: each player's credits as the app
  posts them (`ACTIVITY_CREDIT` for metro and bus trips: CO2E_GRAMS, CARBON_POINT and GROWTH
  against the player's issuance shard; step days: GROWTH and ENERGY; `EGG_REWARD` when the
  engine finds an egg), hash-chained with `app.ledger.chain.line_hash`, with running balances,
  so `carbon-planet ledger verify` passes. Trips are spread over the last 30 days and every
  player's last trip falls in the current week (so the weekly boards hold every player).
  No `activity` rows are written: the transactions' references name activity ids that do
  not exist (nothing reads them back in the benchmark; `ledger verify` does not look).
  The issuance accounts' lines are chained in the order the chunks are written, not in time
  order (verify checks the chain, not the order of times).
- `auth_session`: one session for each of the first `--sessions` players; the load
  generator signs access tokens for them with the bench secret (`bench.load.SECRET_KEY`);
- `bench_player(n, id)`: a lookup the load generator and the pgbench script use to pick
  players by number (not an app table).

Foreign-key triggers are off while loading (`session_replication_role = replica`): rows are
consistent by construction and `ledger verify` checks the ledger. Then the leaderboards are
rebuilt with the app's own `carbon-planet leaderboard rebuild`, timed: that is the
"rebuild all boards" figure.

A database that already has players is refused; `--reset` drops and recreates it (and removes
the `lb:*` keys of the Redis database given).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

BIN = Path(sys.executable).parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/carbon_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
CHUNK = 5000  # players per generated chunk
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ASSETS = ("CARBON_POINT", "GROWTH", "ENERGY", "CO2E_GRAMS")
ASSET_INDEX = {a: i for i, a in enumerate(ASSETS)}
FIRST_PLAYER_ACCOUNT = 1001  # ids below are for system accounts (issuance shards)
# Saving per passenger-km in milligrams (methodology/files/travel-v1.toml: baseline - mode).
SAVING_MG = {"metro": 46_700, "bus": 26_900}
LINES_PER_TRIP, LINES_PER_STEP_DAY, STEP_DAY_SHARE = 6, 4, 0.25


def player_uuid(seed: int, n: int) -> uuid.UUID:
    return uuid.UUID(bytes=hashlib.blake2b(f"{seed}:{n}".encode(), digest_size=16).digest(),
                     version=4)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def asyncpg_dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


# --- the pure part, run in worker processes ------------------------------------------------

_RULES = None


def _rules():
    global _RULES
    if _RULES is None:
        from game.rules import default_rules

        _RULES = default_rules()
    return _RULES


def gen_chunk(job: dict) -> dict:
    """Every row of players [start, stop), except the issuance side of their credits."""
    from app.ledger.chain import line_hash
    from app.ledger.service import issuance_shard
    from game.engine import ActivityEvent, EggFound, PlanetState, apply

    rules = _rules()
    seed, players, tz = job["seed"], job["players"], ZoneInfo(job["timezone"])
    now_us, week_us, month_ago_us = job["now_us"], job["week_us"], job["month_ago_us"]
    mean_tx = job["mean_tx"]
    out = {k: [] for k in ("player", "planet", "friendship", "auth_session", "bench_player",
                           "ledger_account", "ledger_transaction", "ledger_line", "issuance")}
    roles = '["player"]'
    for n in range(job["start"], job["stop"]):
        rng = random.Random(seed * 7_919_111 + n)
        pid = player_uuid(seed, n)
        spid = str(pid)
        joined = EPOCH + timedelta(microseconds=month_ago_us - rng.randrange(86_400_000_000 * 60))
        out["player"].append((pid, None, f"玩家{n:07d}", job["city"], None, roles, joined, joined))
        out["bench_player"].append((n + 1, pid))
        if n < job["sessions"]:
            out["auth_session"].append((uuid.UUID(int=rng.getrandbits(128), version=4), "bench",
                                        joined, None, None, pid))
        friends: set[int] = set()
        want = min(job["friends"], players - 1)
        while len(friends) < want:
            j = rng.randrange(players)
            if j != n:
                friends.add(j)
        for j in friends:
            out["friendship"].append((joined, player_uuid(seed, j), pid))

        # Credits: k transactions, the last a trip in the current week.
        k = int(mean_tx) + (1 if rng.random() < mean_tx - int(mean_tx) else 0)
        k = max(1, k)
        times = sorted(month_ago_us + rng.randrange(max(1, week_us - month_ago_us))
                       for _ in range(k - 1))
        times.append(week_us + rng.randrange(max(1, now_us - week_us - 60_000_000)))
        acc_base = FIRST_PLAYER_ACCOUNT + 4 * n
        owner = f"player:{spid}"
        issuer = issuance_shard(n)  # any shard will do: the app picks one per ledger step
        bal = [0, 0, 0, 0]
        seq = [0, 0, 0, 0]
        head = ["", "", "", ""]
        state = PlanetState()
        last_kind_day: set[tuple[str, object]] = set()

        def post(tx_type: str, key: str, ref: str, at: datetime, amounts: dict[str, int]) -> None:
            tx_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            stx = str(tx_id)
            out["ledger_transaction"].append((tx_id, tx_type, key, ref, at))
            for asset, amount in amounts.items():
                if not amount:
                    continue
                a = ASSET_INDEX[asset]
                acc = acc_base + a
                bal[a] += amount
                seq[a] += 1
                digest = line_hash(head[a], acc, seq[a], stx, asset, amount, bal[a], at)
                head[a] = digest
                out["ledger_line"].append((tx_id, acc, seq[a], asset, amount, bal[a], at, digest))
                out["issuance"].append((tx_id, stx, issuer, asset, -amount, at))

        for i, t in enumerate(times):
            at = EPOCH + timedelta(microseconds=t)
            day = at.astimezone(tz).date()
            if i < len(times) - 1 and rng.random() < STEP_DAY_SHARE and ("steps", day) not in last_kind_day:
                steps = rng.randrange(2_000, 20_001)
                kind, growth = "steps", steps // 100
                amounts = {"GROWTH": growth, "ENERGY": steps // 100}
                key = f"steps:{spid}:{day.isoformat()}:{steps}"
            else:
                kind = "metro" if rng.random() < 0.6 else "bus"
                meters = rng.randrange(2_000, 25_001)
                grams = SAVING_MG[kind] * meters // 1_000_000
                growth = grams * 100 // 1000
                amounts = {"CO2E_GRAMS": grams, "CARBON_POINT": grams // 8, "GROWTH": growth}
                key = None
            last_kind_day.add((kind, day))
            activity = uuid.UUID(int=rng.getrandbits(128), version=4)
            post("ACTIVITY_CREDIT", key or f"activity:{activity}", f"activity:{activity}", at, amounts)
            state, effects = apply(state, ActivityEvent(kind, growth, day, at, 1), rules)
            for effect in effects:
                if isinstance(effect, EggFound) and effect.reward_growth:
                    post("EGG_REWARD", f"egg:{spid}:{effect.egg_id}", f"egg:{effect.egg_id}",
                         at, {"GROWTH": effect.reward_growth})
        for a, asset in enumerate(ASSETS):
            if seq[a]:  # the app creates an account at its first posting
                out["ledger_account"].append((acc_base + a, owner, asset, bal[a], False, seq[a],
                                              head[a]))
        active = next(iter(state.unlocked), None)
        out["planet"].append((json.dumps(state.to_json(), separators=(",", ":")), active,
                              EPOCH + timedelta(microseconds=times[-1]), pid))
    return out


# --- the loading part ----------------------------------------------------------------------

COLUMNS = {
    "player": ("id", "phone", "nickname", "city", "avatar_url", "roles", "created_at", "updated_at"),
    "planet": ("state", "active_theme", "updated_at", "player_id"),
    "friendship": ("created_at", "friend_id", "player_id"),
    "auth_session": ("id", "method", "created_at", "revoked_at", "revoke_reason", "player_id"),
    "bench_player": ("n", "id"),
    "ledger_account": ("id", "owner", "asset", "balance", "allow_negative", "line_count", "last_hash"),
    "ledger_transaction": ("id", "type", "idempotency_key", "reference", "created_at"),
    "ledger_line": ("transaction_id", "account_id", "seq", "asset", "amount", "balance_after",
                    "created_at", "hash"),
}


class Issuance:
    """Chains the system side of every credit, in the order chunks are written."""

    def __init__(self) -> None:
        from app.ledger.chain import line_hash

        self.line_hash = line_hash
        self.ids: dict[tuple[str, str], int] = {}
        self.state: dict[int, list] = {}  # id -> [balance, seq, head]

    def lines(self, postings: list[tuple]) -> list[tuple]:
        out = []
        for tx_id, stx, owner, asset, amount, at in postings:
            acc = self.ids.get((owner, asset))
            if acc is None:
                acc = self.ids[(owner, asset)] = len(self.ids) + 1
                if acc >= FIRST_PLAYER_ACCOUNT:
                    raise RuntimeError("too many system accounts")
                self.state[acc] = [0, 0, ""]
            s = self.state[acc]
            s[0] += amount
            s[1] += 1
            s[2] = self.line_hash(s[2], acc, s[1], stx, asset, amount, s[0], at)
            out.append((tx_id, acc, s[1], asset, amount, s[0], at, s[2]))
        return out

    def accounts(self) -> list[tuple]:
        return [(acc, owner, asset, self.state[acc][0], True, self.state[acc][1], self.state[acc][2])
                for (owner, asset), acc in self.ids.items()]


def bounded_imap(pool, fn, jobs: list, window: int):
    """pool.imap in order, with at most `window` chunks computed ahead of the consumer (so a
    slow COPY does not pile generated chunks up in memory)."""
    pending = deque()
    queue = iter(jobs)
    for job in queue:
        pending.append(pool.apply_async(fn, (job,)))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().get()
        job = next(queue, None)
        if job is not None:
            pending.append(pool.apply_async(fn, (job,)))
        yield result


def calibrate(base: dict, lines_per_player: float, sample: int = 400) -> float:
    """The mean transactions per player that give `lines_per_player` ledger lines, egg rewards
    included (found by running the generator on a sample at two rates: lines are ~linear)."""
    sample = min(sample, base["players"])

    def lines_at(mean_tx: float) -> float:
        out = gen_chunk(dict(base, mean_tx=mean_tx, start=0, stop=sample))
        return 2 * len(out["ledger_line"]) / sample

    m0 = base["mean_tx"]
    m1 = m0 * 2
    l0, l1 = lines_at(m0), lines_at(m1)
    slope = (l1 - l0) / (m1 - m0)
    return max(1.0, m0 + (lines_per_player - l0) / slope)


async def prepare_database(url: str, reset: bool) -> None:
    import asyncpg

    name = db_name(url)
    admin = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and reset:
            print(f"dropping database {name} (--reset)")
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def run_cli(env: dict, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "carbon-planet"), *args], env=env, check=True,
                          cwd=str(Path(__file__).resolve().parent.parent),
                          capture_output=capture, text=True)


def cli_env(database_url: str, redis_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "CARBON_LOG_LEVEL": "WARNING", "CARBON_LOG_JSON": "false"}


async def delete_boards(redis_url: str) -> None:
    from redis.asyncio import Redis

    from app.leaderboards.rebuild import delete_all_boards

    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        await delete_all_boards(redis)
    finally:
        await redis.aclose()


async def load(opts, progress) -> dict:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(opts.database_url))
    try:
        if await conn.fetchval("SELECT count(*) FROM (SELECT 1 FROM player LIMIT 1) p"):
            raise SystemExit(f"database {db_name(opts.database_url)} already has players; "
                             "run with --reset to drop and regenerate it")
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_player (n INT PRIMARY KEY, id UUID NOT NULL)")
        await conn.execute("SET session_replication_role = replica; SET synchronous_commit = off")
        now = datetime.now(UTC)
        tz = ZoneInfo(opts.timezone)
        local = now.astimezone(tz)
        week_start = datetime.combine(local.date() - timedelta(days=local.weekday()),
                                      datetime.min.time(), tzinfo=tz)
        if now - week_start < timedelta(minutes=5):
            week_start = now - timedelta(minutes=5)
        to_us = lambda d: (d - EPOCH) // timedelta(microseconds=1)  # noqa: E731
        per_tx = LINES_PER_TRIP * (1 - STEP_DAY_SHARE) + LINES_PER_STEP_DAY * STEP_DAY_SHARE
        mean_tx = opts.lines / per_tx / opts.players
        base = dict(seed=opts.seed, players=opts.players, timezone=opts.timezone, city=opts.city,
                    friends=opts.friends_per_player, sessions=opts.sessions, mean_tx=mean_tx,
                    now_us=to_us(now), week_us=to_us(week_start),
                    month_ago_us=to_us(now - timedelta(days=30)))
        base["mean_tx"] = calibrate(base, opts.lines / opts.players)
        jobs = [dict(base, start=s, stop=min(s + CHUNK, opts.players))
                for s in range(0, opts.players, CHUNK)]
        issuance = Issuance()
        counts = {t: 0 for t in COLUMNS}
        copy_time: dict[str, float] = {}
        tasks = {t: progress.add_task(t, total=total) for t, total in (
            ("player", opts.players), ("friendship", opts.players * opts.friends_per_player),
            ("ledger_transaction", None), ("ledger_line", opts.lines))}
        started = time.perf_counter()
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(opts.workers) as pool:
            for chunk in bounded_imap(pool, gen_chunk, jobs, window=2 * opts.workers):
                chunk["ledger_line"].extend(issuance.lines(chunk.pop("issuance")))
                for table, rows in chunk.items():
                    if rows:
                        t0 = time.perf_counter()
                        await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
                        copy_time[table] = copy_time.get(table, 0.0) + time.perf_counter() - t0
                        counts[table] += len(rows)
                        if table in tasks:
                            progress.update(tasks[table], completed=counts[table])
        await conn.copy_records_to_table("ledger_account", records=issuance.accounts(),
                                         columns=COLUMNS["ledger_account"])
        counts["ledger_account"] += len(issuance.ids)
        copy_seconds = time.perf_counter() - started
        await conn.execute("SELECT setval('ledger_account_id_seq', (SELECT max(id) FROM ledger_account))")
        await conn.execute("SET session_replication_role = DEFAULT")
        t0 = time.perf_counter()
        await conn.execute("ANALYZE")
        analyze_seconds = time.perf_counter() - t0
        return {"rows": counts, "copy_seconds": copy_seconds, "analyze_seconds": analyze_seconds,
                "copy_time": copy_time}
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000_000, help="ledger lines (both sides)")
    parser.add_argument("--friends-per-player", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=50_000,
                        help="players (the first N) with a session for load clients")
    parser.add_argument("--city", default="shenzhen")
    parser.add_argument("--timezone", default="Asia/Shanghai")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)),
                        help="generator processes (the main process also chains and COPYs)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--reset", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--verify", action="store_true", help="run `carbon-planet ledger verify` after")
    parser.add_argument("--summary", type=Path, help="write the figures as JSON here")
    opts = parser.parse_args()
    opts.sessions = min(opts.sessions, opts.players)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class RowsPerSecond(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed or 0:>10,.0f} rows/s")

    asyncio.run(prepare_database(opts.database_url, opts.reset))
    env = cli_env(opts.database_url, opts.redis_url)
    run_cli(env, "migrate", capture=True)
    if opts.reset:
        asyncio.run(delete_boards(opts.redis_url))
    print(f"generating {opts.players:,} players, ~{opts.lines:,} ledger lines, "
          f"{opts.friends_per_player} friends each into {db_name(opts.database_url)}")
    with Progress(TextColumn("{task.description:20}"), BarColumn(), MofNCompleteColumn(),
                  RowsPerSecond(), TimeElapsedColumn()) as progress:
        figures = asyncio.run(load(opts, progress))
    rows = figures["rows"]
    total = sum(rows.values())
    print(f"COPY: {total:,} rows in {figures['copy_seconds']:.1f} s = "
          f"{total / figures['copy_seconds']:,.0f} rows/s "
          f"({rows['ledger_line']:,} ledger lines = "
          f"{rows['ledger_line'] / figures['copy_seconds']:,.0f} lines/s); "
          f"ANALYZE {figures['analyze_seconds']:.1f} s")
    for table, count in rows.items():
        spent = figures["copy_time"].get(table, 0.0)
        print(f"  {table:20} {count:>12,} rows, COPY {spent:6.1f} s")
    print("rebuilding leaderboards with `carbon-planet leaderboard rebuild` …")
    t0 = time.perf_counter()
    rebuilt = run_cli(env, "leaderboard", "rebuild")
    figures["rebuild_seconds"] = time.perf_counter() - t0
    assert rebuilt.returncode == 0
    print(f"leaderboard rebuild: {figures['rebuild_seconds']:.1f} s for {opts.players:,} players")
    if opts.verify:
        t0 = time.perf_counter()
        verify = run_cli(env, "ledger", "verify", capture=True)
        figures["verify_seconds"] = time.perf_counter() - t0
        figures["verify"] = verify.stdout.strip().splitlines()[-1]
        print(f"ledger verify: {figures['verify']} ({figures['verify_seconds']:.1f} s)")
    figures.update(players=opts.players, lines_target=opts.lines,
                   friends_per_player=opts.friends_per_player, sessions=opts.sessions,
                   city=opts.city, seed=opts.seed, generated_at=datetime.now(UTC).isoformat())
    if opts.summary:
        opts.summary.parent.mkdir(parents=True, exist_ok=True)
        opts.summary.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
