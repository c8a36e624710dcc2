"""Benchmark: the `me` query over GraphQL against its bare-Starlette floor.

    .venv/bin/python -m bench.auth_bench [--requests 3000] [--concurrency 32]

Starts both servers (uvicorn, one worker each) on the configured database
(embedded SQLite unless DATABASE_URL is set), logs a demo player in, sends the same
number of requests to each, and prints throughput, latency percentiles, the ratio
to the floor and each server's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
PHONE = "+8613800000001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(args: list[str], port: int, env: dict[str, str], cwd: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(BIN / "uvicorn"), *args, "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server {args} did not start")


async def hammer(url: str, requests: int, concurrency: int, **kwargs) -> dict:
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(requests))
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=concurrency)) as c:

        async def worker() -> None:
            nonlocal errors
            for _ in remaining:
                t0 = time.perf_counter()
                response = await c.request(url=url, **kwargs)
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200 or b'"errors"' in response.content:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {"rps": requests / elapsed, "p50": q[49] * 1000, "p95": q[94] * 1000,
            "p99": q[98] * 1000, "errors": errors}


async def login(base: str, log_path: Path) -> str:
    import json

    async with httpx.AsyncClient(base_url=base) as c:
        await c.post("/graphql", json={
            "query": "mutation($p: String!) { requestLoginCode(phone: $p) { retryAfterSeconds } }",
            "variables": {"p": PHONE}})
        await asyncio.sleep(0.3)
        code = next(json.loads(line)["login_code"] for line in reversed(log_path.read_text().splitlines())
                    if line.startswith("{") and "login_code" in line)
        r = await c.post("/graphql", json={
            "query": "mutation($p: String!, $c: String!) "
                     "{ loginWithCode(phone: $p, code: $c) { session { accessToken } } }",
            "variables": {"p": PHONE, "c": code}})
        return r.json()["data"]["loginWithCode"]["session"]["accessToken"]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    opts = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="carbon-bench-")
    env = {**os.environ, "CARBON_SECRET_KEY": "bench-secret-0123456789abcdefghijklmnop",
           "CARBON_LOG_LEVEL": "WARNING", "PYTHONPATH": str(Path.cwd())}
    env.setdefault("DATABASE_URL", f"sqlite://{workdir}/bench.sqlite3")
    for step in ("migrate", "seed-demo"):
        subprocess.run([str(BIN / "carbon-planet"), step], env=env, cwd=workdir, check=True,
                       stdout=subprocess.DEVNULL)
    api_port, bare_port = free_port(), free_port()
    log_path = Path(workdir) / "api.log"
    log_env = {**env, "CARBON_LOG_LEVEL": "WARNING"}
    with open(log_path, "w") as log:
        api = subprocess.Popen(
            [str(BIN / "carbon-planet"), "serve", "--port", str(api_port)],
            env=log_env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    bare = start(["bench.bare_me:app"], bare_port, env, str(Path.cwd()))
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", api_port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        token = await login(f"http://127.0.0.1:{api_port}", log_path)
        headers = {"Authorization": f"Bearer {token}"}
        body = {"query": "{ me { id nickname } }"}
        n, c = opts.requests, opts.concurrency
        await hammer(f"http://127.0.0.1:{bare_port}/me", 200, c, method="GET", headers=headers)
        await hammer(f"http://127.0.0.1:{api_port}/graphql", 200, c, method="POST", json=body, headers=headers)
        floor = await hammer(f"http://127.0.0.1:{bare_port}/me", n, c, method="GET", headers=headers)
        graphql = await hammer(f"http://127.0.0.1:{api_port}/graphql", n, c, method="POST",
                               json=body, headers=headers)
        db = env["DATABASE_URL"].split("://")[0]
        print(f"me query, {n} requests, concurrency {c}, database {db}, one uvicorn worker each")
        print(f"{'':22}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'RSS MB':>8}")
        for name, r, pid in (("bare Starlette floor", floor, bare.pid), ("GraphQL me", graphql, api.pid)):
            print(f"{name:22}{r['rps']:9.0f}{r['p50']:9.1f}{r['p95']:9.1f}{r['p99']:9.1f}"
                  f"{r['errors']:8d}{rss_mb(pid):8.0f}")
        print(f"GraphQL / floor throughput: {graphql['rps'] / floor['rps']:.0%}")
    finally:
        for p in (api, bare):
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
