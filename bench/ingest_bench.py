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


def batch(players: list[str], size: int, offset: int) -> bytes:
    start = datetime.now(CST) - timedelta(hours=3)
    records = []
    for n in range(size):
        kind, meters = (("metro", 12850), ("bus", 6400))[n % 2]
        records.append({"id": f"b{offset + n}", "subject": players[(offset + n) % len(players)],
                        "kind": kind, "startedAt": start.isoformat(),
                        "endedAt": (start + timedelta(minutes=30)).isoformat(),
                        "distanceMeters": meters})
    return json.dumps({"records": records}).encode()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--players", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1000)
    opts = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="carbon-ingest-")
    env = {**os.environ, "CARBON_SECRET_KEY": "bench-secret-0123456789abcdefghijklmnop",
           "CARBON_LOG_LEVEL": "WARNING",
           "CARBON_PARTNERS": json.dumps([{"id": "bench", "secrets": [SECRET]}])}
    env.setdefault("DATABASE_URL", f"sqlite://{workdir}/bench.sqlite3")
    settings = Settings(_env_file=None, database_url=env["DATABASE_URL"])
    players = await make_players(settings, opts.players)
    port = free_port()
    server = subprocess.Popen([str(BIN / "carbon-planet"), "serve", "--port", str(port)], env=env,
                              cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as http:
            for _ in range(100):
                try:
                    await http.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
            total, started = 0, time.perf_counter()
            db = env["DATABASE_URL"].split("://")[0]
            print(f"ingestion, {opts.batches} batches of {opts.batch_size}, database {db}, one worker")
            for b in range(opts.batches):
                body = batch(players, opts.batch_size, b * opts.batch_size)
                stamp = str(int(time.time()))
                t0 = time.perf_counter()
                response = await http.post("/partner/v1/activities", content=body, headers={
                    "X-Partner-Id": "bench", "X-Timestamp": stamp, "X-Signature": sign(SECRET, stamp, body)})
                elapsed = time.perf_counter() - t0
                accepted = sum(r["status"] == "accepted" for r in response.json()["results"])
                total += accepted
                print(f"  batch {b + 1}: {accepted} accepted in {elapsed:.2f} s = {accepted / elapsed:,.0f} records/s")
            overall = time.perf_counter() - started
            print(f"overall: {total / overall:,.0f} records/s; server RSS {rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=10)
    t0 = time.perf_counter()
    verify = subprocess.run([str(BIN / "carbon-planet"), "ledger", "verify"], env=env, cwd=workdir,
                            capture_output=True, text=True)
    print(f"ledger verify: {verify.stdout.strip().splitlines()[-1]} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    asyncio.run(main())
