"""Benchmark: the transparency log's proof time at the city's size, and partner ingestion
with the log on against off, in the same run.

    .venv/bin/python -m bench.log_bench [--leaves 2000000] [--samples 2000]
        [--rounds 3] [--batches 2] [--batch-size 500] [--players 2000] [--skip-ingest]

1. Proofs: a fresh database (embedded SQLite in a temporary folder unless DATABASE_URL
   is set) gets `--leaves` synthetic leaves and every perfect node above them in bulk
   (SQLite executemany, PostgreSQL COPY) and a few checkpoints; then inclusion proofs of
   random leaves in the whole tree and consistency proofs between the checkpoints are
   timed through `app.transparency.proofs` (one query for the nodes each, as the HTTP and
   GraphQL answers make them) and checked against the root. The floor is a `SELECT 1` round
   trip on the same connection, measured in the same run.
2. Ingestion: `carbon-planet serve` (one worker) is started alternately with
   CARBON_TRANSPARENCY_LOG=off and =on (its sequencer running every 0.5 s, as in
   production) on one database, `--rounds` times each; each start gets an untimed warm-up
   batch, then `--batches` signed batches of travel records are timed. Prints records/s per
   mode and the ratio on/off, and the server's CPU per record (sequencing included: the
   figure a shared, noisy machine moves least); then `carbon-planet ledger verify` (which also rebuilds every
   leaf from the ledger) once the queue is drained.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime

import asyncpg
import httpx
from tortoise import Tortoise, connections

from app import database
from app.settings import Settings
from app.transparency import proofs
from app.transparency.store import node_key
from bench.auth_bench import free_port
from bench.ingest_bench import batch, bench_env, ledger_verify, make_players, post_batch, serve, wait_ready
from transparency import merkle
from transparency.merkle import Node


def perfect_levels(leaves: int) -> list[list[bytes]]:
    """Random leaf hashes and every perfect node above them, level by level."""
    levels = [[os.urandom(32) for _ in range(leaves)]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([hashlib.sha256(b"\x01" + below[i] + below[i + 1]).digest()
                       for i in range(0, len(below) - 1, 2)])
    return levels


def leaf_rows(levels: list[list[bytes]]) -> Iterator[tuple]:
    return ((i, uuid.uuid4(), h.hex()) for i, h in enumerate(levels[0]))


def node_rows(levels: list[list[bytes]]) -> Iterator[tuple]:
    return ((node_key(Node(level, i)), level, i, h.hex())
            for level in range(1, len(levels)) for i, h in enumerate(levels[level]))


def root(levels: list[list[bytes]], size: int) -> bytes:
    return merkle.root_from_nodes(size, {n: levels[n.level][n.index] for n in merkle.root_nodes(size)})


async def bulk_insert(url: str, levels: list[list[bytes]], checkpoints: list[tuple]) -> None:
    if url.startswith("sqlite://"):
        db = sqlite3.connect(url.removeprefix("sqlite://"))
        with db:
            db.executemany('INSERT INTO log_leaf ("index", transaction_id, leaf_hash) VALUES (?, ?, ?)',
                           ((i, str(t), h) for i, t, h in leaf_rows(levels)))
            db.executemany('INSERT INTO log_node (key, level, "index", hash) VALUES (?, ?, ?, ?)', node_rows(levels))
            db.executemany("INSERT INTO log_checkpoint (size, root, note, created_at) VALUES (?, ?, ?, ?)",
                           [(s, r, n, t.isoformat()) for s, r, n, t in checkpoints])
        db.close()
        return
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.copy_records_to_table("log_leaf", records=leaf_rows(levels),
                                         columns=["index", "transaction_id", "leaf_hash"])
        await conn.copy_records_to_table("log_node", records=node_rows(levels),
                                         columns=["key", "level", "index", "hash"])
        await conn.copy_records_to_table("log_checkpoint", records=checkpoints,
                                         columns=["size", "root", "note", "created_at"])
        await conn.execute("ANALYZE log_leaf; ANALYZE log_node")
    finally:
        await conn.close()


async def timed(samples: int, work: Callable[[int], Awaitable[object]]) -> list[float]:
    """Milliseconds of each of `samples` calls of `work(n)`."""
    times = []
    for n in range(samples):
        t0 = time.perf_counter()
        await work(n)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered):.2f} ms, p99 {p99:.2f} ms"


@contextlib.asynccontextmanager
async def fresh_database(workdir: str) -> AsyncIterator[str]:
    """A database of the run's own: a SQLite file in `workdir`, or with DATABASE_URL a new
    PostgreSQL database on that server, dropped afterwards."""
    url = database.normalise_url(os.environ.get("DATABASE_URL") or f"sqlite://{workdir}/bench.sqlite3")
    if not url.startswith("postgres://"):
        yield url
        return
    admin_dsn = url.replace("postgres://", "postgresql://", 1)
    name = f"carbon_log_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def proof_bench(leaves: int, samples: int) -> None:
    async with fresh_database(tempfile.mkdtemp(prefix="carbon-log-")) as url:
        await _proof_bench(url, leaves, samples)


async def _proof_bench(url: str, leaves: int, samples: int) -> None:
    settings = Settings(_env_file=None, database_url=url)
    await database.migrate(settings)
    t0 = time.perf_counter()
    levels = perfect_levels(leaves)
    sizes = sorted({leaves // 7, leaves // 3, leaves // 2 + 1, leaves - 1, leaves})
    checkpoints = [(s, root(levels, s).hex(), "bench\n", datetime.now(UTC)) for s in sizes]
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    await bulk_insert(url, levels, checkpoints)
    stored = sum(len(level) for level in levels[1:])
    print(f"proofs: {leaves:,} leaves and {stored:,} stored nodes on {url.split('://')[0]} "
          f"(built {built:.1f} s, inserted {time.perf_counter() - t0:.1f} s)")
    await Tortoise.init(config=database.tortoise_config(settings))
    try:
        conn = connections.get("default")
        full_root = root(levels, leaves)
        rng = random.Random(17)
        indexes = [rng.randrange(leaves) for _ in range(samples)]
        for index in indexes[:20]:  # the proofs are right, not only fast
            proof = await proofs.inclusion(index, leaves)
            merkle.verify_inclusion(levels[0][index], index, leaves, proof, full_root)
        pairs = [(a, b) for a in sizes for b in sizes if a < b]
        for a, b in pairs:
            merkle.verify_consistency(a, b, await proofs.consistency(a, b), root(levels, a), root(levels, b))
        floor = await timed(samples, lambda n: conn.execute_query("SELECT 1"))
        inclusion = await timed(samples, lambda n: proofs.inclusion(indexes[n], leaves))
        consistency = await timed(samples, lambda n: proofs.consistency(*pairs[n % len(pairs)]))
        base = statistics.median(floor)
        print(f"  floor (SELECT 1):   {summary(floor)}")
        print(f"  inclusion proof:    {summary(inclusion)} = {statistics.median(inclusion) / base:.1f}× the floor "
              f"({len(merkle.inclusion_spans(0, leaves))} hashes)")
        print(f"  consistency proof:  {summary(consistency)} = {statistics.median(consistency) / base:.1f}× the floor")
    finally:
        await Tortoise.close_connections()


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process has used (Linux /proc): unlike throughput, barely moved
    by what other processes on a shared machine do."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def pending(url: str) -> int:
    if url.startswith("sqlite://"):
        db = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            return int(db.execute("SELECT COUNT(*) FROM log_pending").fetchone()[0])
        finally:
            db.close()
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        return int(await conn.fetchval("SELECT COUNT(*) FROM log_pending"))
    finally:
        await conn.close()


async def ingest_bench(rounds: int, batches: int, size: int, players_count: int) -> None:
    workdir = tempfile.mkdtemp(prefix="carbon-log-ingest-")
    async with fresh_database(workdir) as url:
        await _ingest_bench(workdir, url, rounds, batches, size, players_count)


async def _ingest_bench(workdir: str, url: str, rounds: int, batches: int, size: int, players_count: int) -> None:
    base_env = bench_env(workdir, database_url=url)
    players = await make_players(Settings(_env_file=None, database_url=url), players_count)
    rates: dict[str, list[float]] = {"off": [], "on": []}
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    offset = 0
    print(f"ingestion: {rounds} rounds × (log off, log on), {batches} batches of {size} each, "
          f"database {url.split('://')[0]}, one worker")
    for round_number in range(rounds):
        for mode in ("off", "on"):
            env = {**base_env, "CARBON_TRANSPARENCY_LOG": mode}
            port = free_port()
            server = serve(env, workdir, port)
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as http:
                    await wait_ready(http)
                    await post_batch(http, batch(players, 50, offset))  # warm-up, untimed
                    offset += 50
                    accepted, seconds = 0, 0.0
                    cpu_before = cpu_seconds(server.pid)
                    for _ in range(batches):
                        result = await post_batch(http, batch(players, size, offset))
                        offset += size
                        accepted += result.statuses["accepted"]
                        seconds += result.seconds
                    rates[mode].append(accepted / seconds)
                    left = ""
                    if mode == "on":
                        for _ in range(100):  # the sequencer keeps up: the queue drains
                            if not (waiting := await pending(url)):
                                break
                            await asyncio.sleep(0.1)
                        left = f", queue drained to {waiting}"
                    # the server's CPU for these records, sequencing them included
                    cpu[mode].append((cpu_seconds(server.pid) - cpu_before) * 1000 / accepted)
                    print(f"  round {round_number + 1}, log {mode}: {accepted} accepted, "
                          f"{accepted / seconds:,.0f} records/s, server CPU {cpu[mode][-1]:.2f} ms/record{left}")
            finally:
                server.terminate()
                server.wait(timeout=10)
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(f"ingestion median: log off {off:,.0f} records/s, log on {on:,.0f} records/s: "
          f"on/off = {on / off:.3f}")
    cpu_off, cpu_on = statistics.median(cpu["off"]), statistics.median(cpu["on"])
    print(f"server CPU median: log off {cpu_off:.2f} ms/record, log on {cpu_on:.2f} ms/record: "
          f"on/off = {cpu_on / cpu_off:.3f}")
    ok, last, seconds = ledger_verify({**base_env, "CARBON_TRANSPARENCY_LOG": "on"}, workdir)
    print(f"ledger verify: {last} ({seconds:.1f} s)")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=2_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--players", type=int, default=2000)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-proofs", action="store_true")
    opts = parser.parse_args()
    if not opts.skip_proofs:
        await proof_bench(opts.leaves, opts.samples)
    if not opts.skip_ingest:
        await ingest_bench(opts.rounds, opts.batches, opts.batch_size, opts.players)


if __name__ == "__main__":
    asyncio.run(main())
