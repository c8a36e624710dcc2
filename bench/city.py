"""The city-scale benchmark, in one command:

    .venv/bin/python -m bench.city [--players 1000000 --lines 10000000 --friends-per-player 5]
        [--workers 2 --concurrency 16] [--reset] [--out var/bench]

1. Fills the bench database (`carbon_bench`; Redis database 7) with `bench.generate_city`
   unless it already holds a city (`--reset` regenerates it), then times the app's own
   `carbon-planet leaderboard rebuild` of every board.
2. Serves the API with `carbon-planet serve --workers N` and runs the scenarios of
   `bench.load`: home screen, leaderboard reads, morning commute, flash sale.
3. Measures the floors on the same machine in the same run (`bench.floors`): the bare
   Starlette home endpoints (same worker count, same client, same concurrency), pgbench
   running one ingestion transaction's SQL, redis-benchmark and a pipelined Redis client.
4. Prints one Markdown table (scenario | figure | floor | ratio | target | met?) with the
   date, the machine, the PostgreSQL and Redis versions and the server settings, and writes
   every figure as JSON to `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import floors, generate_city, load
from bench.generate_city import asyncpg_dsn, db_name

BIN = Path(sys.executable).parent


def machine() -> dict:
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal:")), 0)
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    return {"cores": os.cpu_count(), "ram_gb": round(mem / 1024 / 1024, 1), "cpu": model,
            "python": platform.python_version(), "kernel": platform.release(),
            "load_average_at_start": os.getloadavg()}


async def versions(database_url: str, redis_url: str) -> dict:
    import asyncpg
    from redis.asyncio import Redis

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        pg = await conn.fetchval("SHOW server_version")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        players = await conn.fetchval("SELECT count(*) FROM player")
        lines = await conn.fetchval("SELECT count(*) FROM ledger_line")
        pg_settings = {name: await conn.fetchval(f"SHOW {name}") for name in
                       ("shared_buffers", "synchronous_commit", "max_connections")}
    finally:
        await conn.close()
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        info = await redis.info("server")
        memory = await redis.info("memory")
    finally:
        await redis.aclose()
    return {"postgresql": pg, "database_size": size, "players": players, "ledger_lines": lines,
            "postgresql_settings": pg_settings, "redis": info["redis_version"],
            "redis_used_memory": memory["used_memory_human"]}


async def city_exists(database_url: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
    except (asyncpg.InvalidCatalogNameError, OSError):
        return False
    try:
        return bool(await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'bench_player'")
            and await conn.fetchval("SELECT count(*) FROM (SELECT 1 FROM bench_player LIMIT 1) b"))
    finally:
        await conn.close()


def timed_rebuild(opts) -> float:
    env = generate_city.cli_env(opts.database_url, opts.redis_url)
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "carbon-planet"), "leaderboard", "rebuild"], env=env, check=True,
                   cwd=str(load.ROOT), stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


async def run_all(opts) -> dict:
    figures: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    figures["versions"] = await versions(opts.database_url, opts.redis_url)
    players = figures["versions"]["players"]
    print(f"city: {players:,} players, {figures['versions']['ledger_lines']:,} ledger lines; "
          f"timing `carbon-planet leaderboard rebuild` …", flush=True)
    figures["rebuild_seconds"] = timed_rebuild(opts)
    print(f"leaderboard rebuild: {figures['rebuild_seconds']:.1f} s", flush=True)

    city = await load.load_city(opts.database_url, max(opts.attempts, 10_000), 1_000_000)
    workdir = tempfile.mkdtemp(prefix="carbon-city-")
    results: dict[str, load.Result] = {}

    results["leaderboard_service"] = await load.scenario_leaderboard_service(opts, city, opts.leaderboard_reads)
    load.print_result(results["leaderboard_service"])
    from redis.asyncio import Redis

    from app.leaderboards.boards import Leaderboards

    redis = Redis.from_url(opts.redis_url, decode_responses=True)
    key = Leaderboards(redis, load.TIMEZONE).key("GLOBAL", "WEEK")
    await redis.aclose()
    results["redis_floor"] = await floors.redis_pipelined_reads(
        opts.redis_url, key, [pid for pid, _ in city.sessions], opts.leaderboard_reads,
        opts.leaderboard_concurrency, opts.seconds)
    load.print_result(results["redis_floor"])
    figures["redis_benchmark"] = floors.redis_benchmark(opts.redis_url, key, 100_000, opts.concurrency)
    print(f"redis-benchmark ZREVRANGE top 10: {figures['redis_benchmark']}", flush=True)

    server = load.start_app(opts, workdir)
    port = load.free_port()
    env = load.server_env(opts.database_url, opts.redis_url, workdir)
    floor_server = load.Server(
        [str(BIN / "python"), "-m", "app.serving", "bench.floors:app_factory", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(opts.workers)],
        env, port, Path(workdir) / "floor-server.log")
    try:
        await server.wait_ready()
        await floor_server.wait_ready()
        figures["idle_rss"] = server.rss()
        # The home screen and its floor in alternation, twice (both servers are up, the
        # one not measured is idle): a drift of the shared machine's speed during the run
        # then weighs on both sides alike, where one after the other it weighed on one.
        rounds: dict[str, list[load.Result]] = {k: [] for k in
                                                ("home", "home_moderate", "home_floor", "home_floor_moderate")}
        for _ in range(2):
            home, moderate = await load.scenario_home(opts, city, server)
            rounds["home"].append(home)
            rounds["home_moderate"].append(moderate)
            floor_server.reset_peak()
            r = await load.drive("home screen floor (Starlette)", "127.0.0.1", port,
                                 floors.floor_home_sender(city), opts.requests or 6000,
                                 opts.concurrency, opts.seconds, warmup=300)
            r.rss = dict(floor_server.peak)
            rounds["home_floor"].append(r)
            r = await load.drive(f"home screen floor (Starlette), {opts.latency_concurrency} connections",
                                 "127.0.0.1", port, floors.floor_home_sender(city), opts.requests or 6000,
                                 opts.latency_concurrency, opts.seconds, warmup=100)
            rounds["home_floor_moderate"].append(r)
            for name in rounds:
                load.print_result(rounds[name][-1])
        for name, measured in rounds.items():
            results[name] = load.merged(measured)
        results["leaderboard_graphql"] = await load.scenario_leaderboard_graphql(opts, city, server)
        load.print_result(results["leaderboard_graphql"])
        (results["commute_alone"], results["commute_batches"],
         results["commute_steps"]) = await load.scenario_commute(opts, city, server)
        load.print_result(results["commute_alone"])
        load.print_result(results["commute_batches"])
        load.print_result(results["commute_steps"])
        results["flash"] = await load.scenario_flash(opts, city, server)
        load.print_result(results["flash"])
        figures["app_rss_end"] = server.rss()
    finally:
        server.stop()
        floor_server.stop()

    clone = db_name(opts.database_url) + "_floor"
    clone_url = opts.database_url.rsplit("/", 1)[0] + "/" + clone
    figures["pgbench_clone_seconds"] = await floors.clone_database(opts.database_url, clone)
    try:
        pg = floors.pgbench(clone_url, players, opts.batch_concurrency, opts.pgbench_seconds)
        pg.pop("output")
        figures["pgbench"] = pg
        print(f"pgbench ingestion transaction: {pg}", flush=True)
        batch = floors.pgbench(clone_url, players, opts.batch_concurrency, opts.pgbench_seconds,
                               script=floors.INGEST_BATCH_SQL)
        batch.pop("output")
        batch["records_per_second"] = batch["tps"] * 100
        figures["pgbench_batch"] = batch
        print(f"pgbench ingestion batch transaction (100 records): {batch}", flush=True)
    finally:
        await floors.drop_database(opts.database_url, clone)
    figures["results"] = {k: v.as_dict() for k, v in results.items()}
    return figures


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(f: dict, opts) -> str:
    r = f["results"]
    home, floor = r["home"], r["home_floor"]
    mod, mod_floor = r["home_moderate"], r["home_floor_moderate"]
    batches, steps, flash = r["commute_batches"], r["commute_steps"], r["flash"]
    alone = r["commute_alone"]
    cpu = alone["notes"]["cpu_ms_per_batch"]
    lb, lb_floor, lb_gql = r["leaderboard_service"], r["redis_floor"], r["leaderboard_graphql"]
    pg, pgb, rb = f["pgbench"], f["pgbench_batch"], f["redis_benchmark"]
    worker_mb = max(x["rss"].get("max_worker_mb", 0) for x in (home, batches, flash, lb_gql))
    floor_worker = floor["rss"].get("max_worker_mb", 0)
    rows = [
        ("Home screen (Planet + Balances + city weekly Leaderboard)",
         f"{home['rps']:,.0f} req/s ({home['rps'] / 3:,.0f} screens/s; rounds "
         f"{', '.join(f'{x:,.0f}' for x in home['notes'].get('rounds_rps', []))}), {home['errors']} errors",
         f"{floor['rps']:,.0f} req/s bare Starlette (rounds "
         f"{', '.join(f'{x:,.0f}' for x in floor['notes'].get('rounds_rps', []))}), "
         "measured in alternation with the app", f"{home['rps'] / floor['rps']:.0%}",
         "≥ 60% of floor", yes(home["rps"] >= 0.6 * floor["rps"])),
        (f"Home screen latency at saturation ({opts.concurrency} connections)",
         f"p50 {home['p50_ms']:.1f} / p95 {home['p95_ms']:.1f} / p99 {home['p99_ms']:.1f} ms",
         f"p99 {floor['p99_ms']:.1f} ms", f"{home['p99_ms'] / floor['p99_ms']:.1f}×", "p99 < 50 ms",
         yes(home["p99_ms"] < 50)),
        (f"Home screen latency at a moderate load ({opts.latency_concurrency} connections)",
         f"{mod['rps']:,.0f} req/s, p50 {mod['p50_ms']:.1f} / p95 {mod['p95_ms']:.1f} / p99 {mod['p99_ms']:.1f} ms",
         f"{mod_floor['rps']:,.0f} req/s, p99 {mod_floor['p99_ms']:.1f} ms",
         f"{mod['p99_ms'] / mod_floor['p99_ms']:.1f}×", "p99 < 50 ms", yes(mod["p99_ms"] < 50)),
        (f"Partner batches of {opts.batch_size} alone ({opts.batch_concurrency} at a time)",
         f"{alone['units_per_second']:,.0f} records/s, batch p99 {alone['p99_ms']:,.0f} ms, "
         f"{alone['errors']} errors; CPU per batch: app {cpu['app']:.0f} ms, PostgreSQL "
         f"{cpu['postgresql']:.0f} ms, Redis {cpu['redis']:.0f} ms, load client {cpu['client']:.0f} ms",
         f"{pgb['records_per_second']:,.0f} records/s pgbench, batches of 100 in one transaction "
         f"({pgb['tps']:,.1f} tx/s, {pgb['clients']} clients; CPU per batch: PostgreSQL "
         f"{pgb['database_cpu_ms_per_tx']:.0f} ms, pgbench {pgb['pgbench_cpu_ms_per_tx']:.0f} ms); one record a "
         f"transaction {pg['tps']:,.0f} tx/s",
         f"{alone['units_per_second'] / pgb['records_per_second']:.0%}", "≥ 2,000 records/s",
         yes(alone["units_per_second"] >= 2000)),
        (f"Morning commute: partner batches of {opts.batch_size} ({opts.batch_concurrency} at a time) "
         f"with syncSteps alongside",
         f"{batches['units_per_second']:,.0f} records/s, batch p99 {batches['p99_ms']:,.0f} ms, "
         f"{batches['errors']} errors",
         "—", f"{batches['units_per_second'] / pgb['records_per_second']:.0%}", "—", "—"),
        (f"Morning commute: syncSteps ({opts.steps_concurrency} at a time, alongside)",
         f"{steps['rps']:,.0f} req/s, p50 {steps['p50_ms']:.1f} / p99 {steps['p99_ms']:.1f} ms, "
         f"{steps['errors']} errors",
         "—", "—", "—", "—"),
        (f"Flash sale: {flash['notes']['attempts_sent']:,} attempts on stock {opts.stock}",
         f"{flash['rps']:,.0f} attempts/s by {flash['notes']['distinct_players']:,} players, "
         f"{flash['notes']['orders']} orders "
         f"(database {flash['notes']['orders_in_db']}), exact: {'yes' if flash['notes']['exact'] else 'no'}, "
         f"p99 {flash['p99_ms']:.0f} ms", "—", "—", "exact, ≥ 500 attempts/s",
         yes(flash["notes"]["exact"] and flash["rps"] >= 500)),
        (f"Leaderboard top 10 + me + around at {lb['notes']['members']:,} players (app `Leaderboards` "
         f"on Redis, {lb['notes']['concurrency']} at a time)",
         f"p50 {lb['p50_ms']:.2f} / p99 {lb['p99_ms']:.2f} ms, {lb['rps']:,.0f} reads/s",
         f"p99 {lb_floor['p99_ms']:.2f} ms, {lb_floor['rps']:,.0f} reads/s pipelined; "
         f"redis-benchmark top 10 {rb['rps']:,.0f} op/s p99 {rb['p99_ms']:.2f} ms",
         f"{lb['rps'] / lb_floor['rps']:.0%}", "p99 < 5 ms", yes(lb["p99_ms"] < 5)),
        ("Leaderboard query over GraphQL (global weekly board)",
         f"{lb_gql['rps']:,.0f} req/s, p50 {lb_gql['p50_ms']:.1f} / p99 {lb_gql['p99_ms']:.1f} ms",
         "—", "—", "—", "—"),
        (f"Rebuild all boards ({f['versions']['players']:,} players)", f"{f['rebuild_seconds']:.1f} s",
         "—", "—", "< 60 s", yes(f["rebuild_seconds"] < 60)),
        ("Server RSS, largest worker (peak over the scenarios)", f"{worker_mb:.0f} MB "
         f"(sum of {opts.workers} workers {max(x['rss'].get('sum_mb', 0) for x in (home, batches, flash)):.0f} MB)",
         f"{floor_worker:.0f} MB bare Starlette worker", f"{worker_mb / floor_worker:.1f}×" if floor_worker else "—",
         "< 200 MB", yes(worker_mb < 200)),
    ]
    m, v = f["machine"], f["versions"]
    head = [
        f"City benchmark, {f['date']}: {v['players']:,} players, {v['ledger_lines']:,} ledger lines "
        f"(database {v['database_size']}, Redis {v['redis_used_memory']}).",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, load average at start "
        f"{m['load_average_at_start'][0]:.2f}; PostgreSQL {v['postgresql']} "
        f"(shared_buffers {v['postgresql_settings']['shared_buffers']}, synchronous_commit "
        f"{v['postgresql_settings']['synchronous_commit']}), Redis {v['redis']}, Python {m['python']}; "
        "all on the same machine, load generator included.",
        f"Server: `carbon-planet serve --workers {opts.workers}` (uvicorn, uvloop, httptools; a "
        "SO_REUSEPORT socket per worker, see app/serving.py; the floor is served the same way), "
        f"CARBON_ENV=development, CARBON_LOG_LEVEL=WARNING, CARBON_GRAPHIQL=false, "
        f"CARBON_PAYOUT_WORKER=false, CARBON_PARTNER_RATE_LIMIT=0; load: one asyncio client process, "
        f"{opts.concurrency} connections "
        f"(home, flash sale, leaderboard), closed loop.",
        "",
        "| scenario | figure | floor | ratio | target | met? |",
        "|---|---|---|---:|---|---|",
    ]
    return "\n".join(head + [f"| {' | '.join(row)} |" for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--friends-per-player", type=int, default=5)
    parser.add_argument("--reset", action="store_true", help="regenerate the city even if present")
    parser.add_argument("--leaderboard-reads", type=int, default=20_000)
    parser.add_argument("--pgbench-seconds", type=int, default=30)
    parser.add_argument("--out", type=Path, default=load.ROOT / "var" / "bench")
    load.add_options(parser)
    opts = parser.parse_args()
    if opts.reset or not asyncio.run(city_exists(opts.database_url)):
        args = [sys.executable, "-m", "bench.generate_city", "--players", str(opts.players),
                "--lines", str(opts.lines), "--friends-per-player", str(opts.friends_per_player),
                "--database-url", opts.database_url, "--redis-url", opts.redis_url,
                "--summary", str(opts.out / "generate.json"), "--reset"]
        subprocess.run(args, check=True, cwd=str(load.ROOT))
    figures = load.run(run_all(opts))
    if (opts.out / "generate.json").exists():
        figures["generate"] = json.loads((opts.out / "generate.json").read_text())
    markdown = table(figures, opts)
    opts.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (opts.out / f"city-{stamp}.json").write_text(json.dumps(figures, indent=2, default=str))
    (opts.out / f"city-{stamp}.md").write_text(markdown + "\n")
    print()
    print(markdown)


if __name__ == "__main__":
    main()
