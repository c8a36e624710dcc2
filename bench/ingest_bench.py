"""Benchmark: partner ingestion throughput, records per second, in batches.

    .venv/bin/python -m bench.ingest_bench [--players 2000] [--batches 5] [--batch-size 1000]

Creates the players, starts `carbon-planet serve` (one worker) on the configured
database (embedded SQLite unless DATABASE_URL is set), sends signed batches of metro and
bus records for distinct players one after another and prints records/s per batch
and overall, then runs `carbon-planet ledger verify`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
from tortoise import Tortoise

from app import database
from app.accounts.models import Player
from app.credits.signatures import sign
from app.settings import Settings
from bench.auth_bench import BIN, free_port, rss_mb

SECRET = "bench-partner-secret-0123456789abcdefghij"
CST = timezone(timedelta(hours=8))


async def make_players(settings: Settings, count: int) -> list[str]:
    await database.migrate(settings)
    await Tortoise.init(config=database.tortoise_config(settings))
    try:
        ids = [uuid.uuid4() for _ in range(count)]
        await Player.bulk_create([Player(id=i, nickname=f"bench{n}", roles=["player"])
                                  for n, i in enumerate(ids)], batch_size=1000)
        return [str(i) for i in ids]
    finally:
        await Tortoise.close_connections()


def trip(record_id: str, player: str, n: int) -> dict:
    """A metro (even `n`) or bus ride of the player three hours ago."""
    start = datetime.now(CST) - timedelta(hours=3)
    kind, meters = (("metro", 12850), ("bus", 6400))[n % 2]
    return {"id": record_id, "subject": player, "kind": kind, "startedAt": start.isoformat(),
            "endedAt": (start + timedelta(minutes=30)).isoformat(), "distanceMeters": meters}


def batch(players: list[str], size: int, offset: int) -> bytes:
    return json.dumps({"records": [trip(f"b{offset + n}", players[(offset + n) % len(players)], n)
                                   for n in range(size)]}).encode()


def bench_env(workdir: str, partner: dict | None = None, database_url: str | None = None,
              redis_url: str | None = None) -> dict[str, str]:
    """The server's environment: one partner ("bench", travel only unless `partner` says
    more), the database (embedded SQLite in `workdir` unless given or in DATABASE_URL)."""
    env = {**os.environ, "CARBON_SECRET_KEY": "bench-secret-0123456789abcdefghijklmnop",
           "CARBON_LOG_LEVEL": "WARNING",
           "CARBON_PARTNERS": json.dumps([{"id": "bench", "secrets": [SECRET], **(partner or {})}])}
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.setdefault("DATABASE_URL", f"sqlite://{workdir}/bench.sqlite3")
    return env


def serve(env: dict[str, str], workdir: str, port: int, extra: list[str] | None = None) -> subprocess.Popen:
    """`carbon-planet serve`, one worker, on `port` (wait for it with `wait_ready`)."""
    return subprocess.Popen([str(BIN / "carbon-planet"), "serve", "--port", str(port), *(extra or [])],
                            env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(http: httpx.AsyncClient) -> None:
    for _ in range(100):
        try:
            await http.get("/healthz")
            return
        except httpx.TransportError:
            await asyncio.sleep(0.2)


@dataclass
class BatchResult:
    statuses: Counter  # outcome status (accepted, rejected, duplicate) -> records
    reasons: Counter  # refusal reason -> records
    seconds: float


async def post_batch(http: httpx.AsyncClient, body: bytes) -> BatchResult:
    """One signed batch as partner "bench", timed, its outcomes counted."""
    stamp = str(int(time.time()))
    t0 = time.perf_counter()
    response = await http.post("/partner/v1/activities", content=body, headers={
        "X-Partner-Id": "bench", "X-Timestamp": stamp, "X-Signature": sign(SECRET, stamp, body)})
    elapsed = time.perf_counter() - t0
    response.raise_for_status()
    results = response.json()["results"]
    return BatchResult(Counter(r["status"] for r in results),
                       Counter(r["reason"] for r in results if r.get("reason")), elapsed)


def ledger_verify(env: dict[str, str], workdir: str) -> tuple[bool, str, float]:
    """`carbon-planet ledger verify`: whether it passed, its last line, its seconds."""
    t0 = time.perf_counter()
    verify = subprocess.run([str(BIN / "carbon-planet"), "ledger", "verify"], env=env, cwd=workdir,
                            capture_output=True, text=True)
    lines = (verify.stdout.strip() or verify.stderr.strip() or "(no output)").splitlines()
    return verify.returncode == 0, lines[-1], time.perf_counter() - t0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--players", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1000)
    opts = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="carbon-ingest-")
    env = bench_env(workdir)
    settings = Settings(_env_file=None, database_url=env["DATABASE_URL"])
    players = await make_players(settings, opts.players)
    port = free_port()
    server = serve(env, workdir, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as http:
            await wait_ready(http)
            total, started = 0, time.perf_counter()
            db = env["DATABASE_URL"].split("://")[0]
            print(f"ingestion, {opts.batches} batches of {opts.batch_size}, database {db}, one worker")
            for b in range(opts.batches):
                result = await post_batch(http, batch(players, opts.batch_size, b * opts.batch_size))
                accepted, elapsed = result.statuses["accepted"], result.seconds
                total += accepted
                print(f"  batch {b + 1}: {accepted} accepted in {elapsed:.2f} s = {accepted / elapsed:,.0f} records/s")
            overall = time.perf_counter() - started
            print(f"overall: {total / overall:,.0f} records/s; server RSS {rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=10)
    _, last, seconds = ledger_verify(env, workdir)
    print(f"ledger verify: {last} ({seconds:.1f} s)")


if __name__ == "__main__":
    asyncio.run(main())
