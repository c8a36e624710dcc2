"""Benchmark: mixed-scene partner batches against travel-only batches, in one run.

    .venv/bin/python -m bench.scene_ingest_bench [--players N] [--batches 5] [--batch-size 1000]
        [--database-url postgres://…] [--redis-url redis://…/5] [--port 18170] [--profile FILE]
        [--only travel|mixed]

Creates the players (in a new SQLite file, or in the PostgreSQL database the URL names,
dropped and created afresh), starts `carbon-planet serve` (one worker) with one partner
registered for travel, household electricity, recycling and the banking actions, then
sends travel batches (metro and bus) and mixed batches (a quarter each of travel,
electricity bills, recycling receipts and banking actions) alternately, of the same
size, every record for its own player, meter, receipt or transaction so none is refused.
Prints records/s per batch and overall for both, the ratio mixed/travel overall and the
median of each mixed batch against the travel batch just before it, the outcomes
counted (every record must be accepted), then runs `carbon-planet ledger verify`; exits 1
if a record was not accepted or the ledger does not verify.

With --profile the server runs under cProfile; its stats go to FILE and the functions
with the most cumulative time are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from app.settings import Settings
from bench.auth_bench import rss_mb
from bench.database import fresh_postgres
from bench.ingest_bench import (
    CST,
    BatchResult,
    bench_env,
    ledger_verify,
    make_players,
    post_batch,
    serve,
    trip,
    wait_ready,
)

SCENES = ["travel", "household_electricity", "recycling", "e_statement", "online_transfer", "online_payment"]
BANKING = ("e_statement", "online_transfer", "online_payment")


def scene_record(record_id: str, player: str, n: int) -> dict:
    """The n-th record of a mixed batch: travel, an electricity bill, a recycling receipt
    or a banking action in turn, each with its own meter, receipt or transaction."""
    occurred = (datetime.now(CST) - timedelta(hours=1)).isoformat()
    base = {"id": record_id, "subject": player, "occurredAt": occurred}
    match n % 4:
        case 0:
            return trip(record_id, player, n // 4)
        case 1:
            # a household of 2 over 30 days: baseline 180 kWh, used 150
            end = datetime.now(CST).date() - timedelta(days=5)
            return {**base, "kind": "household_electricity", "meter_id": f"E-{record_id}",
                    "period_start": (end - timedelta(days=30)).isoformat(), "period_end": end.isoformat(),
                    "start_reading": 1000, "end_reading": 1150, "household_size": 2}
        case 2:
            return {**base, "kind": "recycling", "station_id": "S-1", "receipt_no": f"R-{record_id}",
                    "material": "paper", "weight_g": 2500}
        case _:
            kind = BANKING[(n // 4) % 3]
            key = "statement_id" if kind == "e_statement" else "transaction_id"
            return {**base, "kind": kind, "bank_id": "BK", key: f"T-{record_id}"}


@dataclass
class Series:
    """The batches of one kind: their records, seconds and outcomes."""
    name: str
    records: int = 0
    seconds: float = 0.0
    batch_seconds: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)

    def add(self, size: int, result: BatchResult) -> None:
        self.records += size
        self.seconds += result.seconds
        self.batch_seconds.append(result.seconds)
        self.statuses.update(result.statuses)
        self.reasons.update(result.reasons)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def server_command(port: int, profile: str | None) -> list[str] | None:
    """The profiled server's command (None: `carbon-planet serve` as it is)."""
    if profile is None:
        return None
    code = ("import cProfile, sys; from app.cli import main; "
            f"sys.argv = ['carbon-planet', 'serve', '--port', '{port}']; cProfile.run('main()', {profile!r})")
    return [sys.executable, "-c", code]


async def run(opts: argparse.Namespace) -> int:
    workdir = tempfile.mkdtemp(prefix="carbon-scene-ingest-")
    if opts.database_url and opts.database_url.startswith(("postgres://", "postgresql://")):
        await fresh_postgres(opts.database_url)  # every run on a new database
    env = bench_env(workdir, {"scenes": SCENES}, opts.database_url, opts.redis_url)
    size = opts.batch_size
    players = await make_players(Settings(_env_file=None, database_url=env["DATABASE_URL"]),
                                 opts.players or 2 * opts.batches * size)
    command = server_command(opts.port, opts.profile)
    server = (subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) if command else serve(env, workdir, opts.port))
    travel, mixed = Series("travel"), Series("mixed")
    kinds: Counter = Counter()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{opts.port}", timeout=600) as http:
            await wait_ready(http)
            db = env["DATABASE_URL"].split("://")[0]
            print(f"partner ingestion, {opts.batches} travel and {opts.batches} mixed batches of {size}"
                  f" (alternating), {len(players)} players, database {db}, one worker")
            offset, run_id = 0, uuid.uuid4().hex[:8]  # record ids new to the database on every run
            for b in range(opts.batches):
                for series in (s for s in (travel, mixed) if opts.only in (None, s.name)):
                    ids = [f"{run_id}-{series.name[0]}{offset + n}" for n in range(size)]
                    subjects = [players[(offset + n) % len(players)] for n in range(size)]
                    if series is travel:
                        records = [trip(i, p, n) for n, (i, p) in enumerate(zip(ids, subjects, strict=True))]
                    else:
                        records = [scene_record(i, p, n) for n, (i, p) in enumerate(zip(ids, subjects, strict=True))]
                        kinds.update(r["kind"] for r in records)
                    offset += size
                    result = await post_batch(http, json.dumps({"records": records}).encode())
                    series.add(size, result)
                    print(f"  {series.name:6} batch {b + 1}: {result.statuses['accepted']}/{size} accepted"
                          f" in {result.seconds:.2f} s = {size / result.seconds:,.0f} records/s")
            rss = rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGINT)  # uvicorn shuts down cleanly (and cProfile writes its file)
        server.wait(timeout=120)
    print("mixed batches held " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    for series in (travel, mixed):
        print(f"{series.name:6} overall: {series.records} records in {series.seconds:.2f} s ="
              f" {series.rate:,.0f} records/s; outcomes {dict(series.statuses)}"
              + (f", reasons {dict(series.reasons)}" if series.reasons else ""))
    if not opts.only:
        ratio = mixed.rate / travel.rate if travel.rate else 0.0
        print(f"ratio mixed/travel: {ratio:.2f} (mixed batches take {1 / ratio if ratio else 0:.1f}x as long)")
        # each mixed batch against the travel batch sent just before it: a moment's load
        # on the shared cores moves one pair, not the median
        pairs = sorted(t / m for t, m in zip(travel.batch_seconds, mixed.batch_seconds, strict=True))
        quartiles = statistics.quantiles(pairs, n=4) if len(pairs) > 1 else pairs * 3
        print(f"ratio per batch pair: median {statistics.median(pairs):.2f}"
              f" (quartiles {quartiles[0]:.2f}–{quartiles[2]:.2f}, {len(pairs)} pairs)")
        # a mixed batch's travel quarter goes at the travel rate; the rest is the scenes' time
        scene_seconds = mixed.seconds - travel.seconds / 4
        print(f"estimated time per scene record: {1000 * scene_seconds / (0.75 * mixed.records):.1f} ms"
              f" against {1000 * travel.seconds / travel.records:.2f} ms per travel record; server RSS {rss:.0f} MB")
    ok, last, seconds = ledger_verify(env, workdir)
    print(f"ledger verify: {last} ({seconds:.1f} s)")
    if opts.profile:
        print(f"server profile ({opts.profile}), by cumulative time:")
        pstats.Stats(opts.profile).sort_stats("cumulative").print_stats(opts.profile_lines)
    every_accepted = all(s.statuses["accepted"] == s.records for s in (travel, mixed))
    if not every_accepted:
        print("FAILED: not every record was accepted")
    if not ok:
        print("FAILED: ledger verify")
    return 0 if every_accepted and ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=0, help="players (default: one per record)")
    parser.add_argument("--batches", type=int, default=5, help="batches of each kind")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default DATABASE_URL, else embedded SQLite")
    parser.add_argument("--redis-url", default=None, help="default REDIS_URL, else the embedded fakeredis")
    parser.add_argument("--port", type=int, default=18170)
    parser.add_argument("--profile", default=None, help="run the server under cProfile, stats to this file")
    parser.add_argument("--profile-lines", type=int, default=30)
    parser.add_argument("--only", choices=["travel", "mixed"], default=None,
                        help="send batches of one kind only (to profile it), no ratio")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
