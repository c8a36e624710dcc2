"""Load generator for the city-scale benchmark: its four scenarios.

    .venv/bin/python -m bench.load [home|commute|flash|leaderboard|all] [--workers 2]
        [--concurrency 16] [--requests N] [--seconds S]
        [--database-url …carbon_bench] [--redis-url redis://127.0.0.1:6379/7]

Runs against a database filled by `bench.generate_city`. Starts `carbon-planet serve
--workers N` itself (see `server_env` for the settings), then drives it from this process
with a small asyncio HTTP/1.1 keep-alive client on uvloop (`HttpConnection`): one
connection per concurrent client, closed loop (each client sends its next request when the
previous one is answered), bounded by a request count and a time limit. No dependency:
httpx collapses above ~16 connections and costs more CPU per request than the server
being measured; a raw client keeps the load generator's share of the 2 cores small.

Each scenario prints throughput, p50/p95/p99 latency, errors and the server's RSS (sum
over the uvicorn workers and the largest worker, sampled every 0.5 s; the peak is kept).
`bench.city` runs all of them with the floors and prints the final table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jwt

from bench.generate_city import DEFAULT_DB, DEFAULT_REDIS, asyncpg_dsn

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET_KEY = "bench-secret-0123456789abcdefghijklmnopqrstuv"
PARTNER_ID = "bench-metro"
PARTNER_SECRET = "bench-partner-secret-0123456789abcdefghijklmnop"
CONTRACT = ROOT / "tests" / "contract"
TIMEZONE = "Asia/Shanghai"


# --- the contract's operations, verbatim ----------------------------------------------------

def operation(file: str, name: str) -> str:
    """One operation of a contract file, verbatim (the text a client sends)."""
    text = (CONTRACT / file).read_text(encoding="utf-8")
    blocks, current = {}, []
    for line in text.splitlines():
        if line.startswith(("query ", "mutation ", "subscription ")):
            if current:
                blocks[current[0].split()[1].split("(")[0].split("{")[0]] = "\n".join(current)
            current = [line]
        elif current:
            if line.startswith("#"):
                continue
            current.append(line)
    if current:
        blocks[current[0].split()[1].split("(")[0].split("{")[0]] = "\n".join(current)
    return blocks[name].strip()


# --- a minimal HTTP/1.1 keep-alive client ---------------------------------------------------

class HttpConnection:
    """One keep-alive connection; `request` returns (status, body)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self.writer is None:
                await self._open()
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                    f"Content-Length: {len(body)}"]
            head += [f"{k}: {v}" for k, v in (headers or {}).items()]
            self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            try:
                return await self._response()
            except (asyncio.IncompleteReadError, ConnectionError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, bytes]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(data[:-2])
            body = b"".join(parts)
        else:
            body = await self.reader.readexactly(length or 0)
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# --- measuring --------------------------------------------------------------------------------

def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass
class Result:
    name: str
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds
    units: int = 0  # e.g. records, when one request carries several
    notes: dict = field(default_factory=dict)
    rss: dict = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def units_per_second(self) -> float:
        return self.units / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000

    def line(self) -> str:
        extra = f"  {self.units_per_second:,.0f} units/s" if self.units and self.units != self.count else ""
        rss = (f"  RSS sum {self.rss['sum_mb']:.0f} MB, largest worker {self.rss['max_worker_mb']:.0f} MB"
               if self.rss else "")
        return (f"{self.name:28} {self.count:>7} req in {self.seconds:6.1f} s = {self.rps:8,.0f} req/s"
                f"{extra}  p50 {self.p(50):6.1f}  p95 {self.p(95):6.1f}  p99 {self.p(99):6.1f} ms"
                f"  errors {self.errors}{rss}")

    def as_dict(self) -> dict:
        return {"name": self.name, "count": self.count, "errors": self.errors,
                "seconds": self.seconds, "rps": self.rps, "units": self.units,
                "units_per_second": self.units_per_second, "p50_ms": self.p(50),
                "p95_ms": self.p(95), "p99_ms": self.p(99), "rss": self.rss, "notes": self.notes,
                "error_samples": self.error_samples[:5]}


def merged(results: list[Result]) -> Result:
    """Several runs of one scenario as one: requests and time added, latencies pooled."""
    out = Result(results[0].name + (f" ({len(results)} rounds)" if len(results) > 1 else ""))
    for r in results:
        out.count += r.count
        out.errors += r.errors
        out.seconds += r.seconds
        out.units += r.units
        out.latencies.extend(r.latencies)
        out.error_samples.extend(r.error_samples)
        out.notes.setdefault("rounds_rps", []).append(round(r.rps, 1))
        for key, value in r.rss.items():
            out.rss[key] = max(out.rss.get(key, 0), value)
    return out


Send = Callable[[HttpConnection, int], Awaitable[tuple[bool, int, str | None]]]
"""One request number i on a connection -> (ok, units, error text)."""


async def drive(name: str, host: str, port: int, send: Send, requests: int, concurrency: int,
                seconds: float, warmup: int = 0) -> Result:
    """Closed loop: `concurrency` connections share `requests` request numbers, until done
    or `seconds` have passed. Warm-up requests (numbers past `requests`) are not counted."""
    result = Result(name)
    connections = [HttpConnection(host, port) for _ in range(concurrency)]
    if warmup:
        counter = iter(range(requests, requests + warmup))

        async def warm(conn: HttpConnection) -> None:
            for i in counter:
                await send(conn, i)

        await asyncio.gather(*(warm(c) for c in connections))
    numbers = iter(range(requests))
    deadline = time.perf_counter() + seconds

    async def client(conn: HttpConnection) -> None:
        for i in numbers:
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            try:
                ok, units, error = await send(conn, i)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                ok, units, error = False, 0, f"{type(exc).__name__}: {exc}"
                conn.close()
            result.latencies.append(time.perf_counter() - t0)
            result.count += 1
            result.units += units
            if not ok:
                result.errors += 1
                if error and len(result.error_samples) < 20:
                    result.error_samples.append(error[:300])

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    result.seconds = time.perf_counter() - started
    for c in connections:
        c.close()
    return result


def graphql_errors(status: int, body: bytes) -> str | None:
    """Why a GraphQL response failed (None: it did not)."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    doc = json.loads(body)
    if doc.get("errors"):
        return json.dumps(doc["errors"])[:300]
    return None


# --- the server and its memory ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(app_pids: list[int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the app's workers, PostgreSQL's processes,
    Redis and this load client: two snapshots give who used the cores in between."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"app": 0.0, "postgresql": 0.0, "redis": 0.0}
    app = set(app_pids)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(entry.name) in app:
            used["app"] += seconds
        elif comm.startswith("postgres"):
            used["postgresql"] += seconds
        elif comm.startswith("redis-server"):
            used["redis"] += seconds
    used["client"] = time.process_time()
    return used


def cpu_per_unit(before: dict[str, float], after: dict[str, float], units: int) -> dict[str, float]:
    """Milliseconds of CPU per unit (a batch, a request) for each process group."""
    return {k: round(1000 * (after[k] - before[k]) / max(units, 1), 1) for k in before}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Server:
    """A server process tree (uvicorn supervisor + workers) with an RSS sampler."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        with open(log, "w") as out:
            self.process = subprocess.Popen(args, env=env, cwd=env.get("BENCH_WORKDIR", str(ROOT)),
                                            stdout=out, stderr=subprocess.STDOUT)
        self.peak = {"sum_mb": 0.0, "max_worker_mb": 0.0, "workers": 0}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def worker_pids(self) -> list[int]:
        kids = descendants(self.process.pid)
        # With --workers > 1 the supervisor spawns workers (multiprocessing spawn); skip the
        # multiprocessing resource tracker if any. With 1 worker the process itself serves.
        workers = [p for p in kids if "resource_tracker" not in cmdline(p)]
        return workers or [self.process.pid]

    def rss(self) -> dict:
        sizes = [rss_mb(p) for p in self.worker_pids()]
        return {"sum_mb": sum(sizes), "max_worker_mb": max(sizes, default=0.0),
                "workers": len(sizes), "supervisor_mb": rss_mb(self.process.pid)}

    def reset_peak(self) -> None:
        self.peak = {"sum_mb": 0.0, "max_worker_mb": 0.0, "workers": 0}

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            now = self.rss()
            if now["sum_mb"] > self.peak["sum_mb"]:
                self.peak.update(sum_mb=now["sum_mb"], workers=now["workers"])
            self.peak["max_worker_mb"] = max(self.peak["max_worker_mb"], now["max_worker_mb"])
            self.peak["supervisor_mb"] = now["supervisor_mb"]

    async def wait_ready(self, path: str = "/healthz", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited ({self.process.returncode}); see {self.log}")
            try:
                conn = HttpConnection("127.0.0.1", self.port)
                status, _ = await conn.request("GET", path)
                conn.close()
                if status == 200:
                    self._sampler.start()
                    return
            except OSError:
                pass
            await asyncio.sleep(0.3)
        raise RuntimeError(f"server did not answer {path} within {timeout} s; see {self.log}")

    def stop(self) -> None:
        self._stop.set()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_env(database_url: str, redis_url: str, workdir: str) -> dict[str, str]:
    """The settings the benchmark serves with (printed in the table's header)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CARBON_")},
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CARBON_ENV": "development",  # production refuses the log SMS and sandbox payouts
        "CARBON_SECRET_KEY": SECRET_KEY,
        "CARBON_LOG_LEVEL": "WARNING",
        "CARBON_GRAPHIQL": "false",
        "CARBON_PAYOUT_WORKER": "false",
        # One bench partner stands for every partner of the city: no per-partner limit.
        "CARBON_PARTNER_RATE_LIMIT": "0",
        "CARBON_DEFAULT_TIMEZONE": TIMEZONE,
        "CARBON_PARTNERS": json.dumps([{"id": PARTNER_ID, "name": "Bench Metro",
                                        "secrets": [PARTNER_SECRET]}]),
        "PYTHONPATH": str(ROOT),
        "BENCH_WORKDIR": workdir,
    }


def start_app(opts, workdir: str) -> Server:
    port = free_port()
    env = server_env(opts.database_url, opts.redis_url, workdir)
    return Server([str(BIN / "carbon-planet"), "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(opts.workers)], env, port, Path(workdir) / "app-server.log")


# --- fixtures from the generated city --------------------------------------------------------

@dataclass
class City:
    players: int
    sessions: list[tuple[str, str]]  # (player id, session id)
    tokens: list[str]
    player_ids: list[str]  # by number, for partner records


def mint_tokens(sessions: list[tuple[str, str]]) -> list[str]:
    """Access tokens signed like `Sessions._access_token`, valid for 6 hours."""
    now = int(time.time())
    return [jwt.encode({"iss": "carbon-planet", "typ": "access", "sub": pid, "sid": sid,
                        "iat": now, "exp": now + 6 * 3600}, SECRET_KEY, algorithm="HS256")
            for pid, sid in sessions]


async def players_with_points(database_url: str, points: int, limit: int) -> City:
    """Session holders with at least `points` carbon points, in random order (flash sale)."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT s.player_id, s.id FROM auth_session s JOIN ledger_account a "
            "ON a.owner = 'player:' || s.player_id::text AND a.asset = 'CARBON_POINT' "
            "WHERE s.method = 'bench' AND s.revoked_at IS NULL AND a.balance >= $1 "
            "ORDER BY random() LIMIT $2", points, limit)
    finally:
        await conn.close()
    sessions = [(str(r[0]), str(r[1])) for r in rows]
    return City(len(sessions), sessions, mint_tokens(sessions), [])


async def load_city(database_url: str, max_sessions: int, max_players: int) -> City:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        players = await conn.fetchval("SELECT count(*) FROM bench_player")
        rows = await conn.fetch(
            "SELECT s.player_id, s.id FROM auth_session s JOIN bench_player b ON b.id = s.player_id "
            "WHERE s.method = 'bench' AND s.revoked_at IS NULL ORDER BY b.n LIMIT $1", max_sessions)
        ids = await conn.fetch("SELECT id FROM bench_player ORDER BY n LIMIT $1", max_players)
    finally:
        await conn.close()
    if not rows:
        raise SystemExit("no bench sessions: run `python -m bench.generate_city` first")
    sessions = [(str(r[0]), str(r[1])) for r in rows]
    return City(players, sessions, mint_tokens(sessions), [str(r[0]) for r in ids])


# --- scenarios -------------------------------------------------------------------------------

HOME_QUERIES = (
    ("Planet", operation("game.graphql", "Planet"), {}),
    ("Balances", operation("credits.graphql", "Balances"), {}),
    ("Leaderboard", operation("game.graphql", "Leaderboard"),
     {"scope": "CITY", "period": "WEEK", "first": 10}),
)


def graphql_body(query: str, variables: dict) -> bytes:
    return json.dumps({"query": query, "variables": variables}).encode()


HOME_BODIES = [graphql_body(q, v) for _, q, v in HOME_QUERIES]


def home_sender(city: City) -> Send:
    """Request i is query i % 3 of the home screen of player i // 3 (a session holder)."""

    async def send(conn: HttpConnection, i: int) -> tuple[bool, int, str | None]:
        token = city.tokens[(i // 3) % len(city.tokens)]
        status, body = await conn.request("POST", "/graphql", {
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            HOME_BODIES[i % 3])
        error = graphql_errors(status, body)
        return error is None, 1, error

    return send


async def scenario_home(opts, city: City, server: Server) -> tuple[Result, Result]:
    """The home screen at saturation (`--concurrency` connections: throughput, and the
    latency of a queue), then at a moderate load (`--latency-concurrency` connections:
    the latency of a request that does not wait behind a queue)."""
    server.reset_peak()
    r = await drive("home screen (GraphQL)", "127.0.0.1", server.port, home_sender(city),
                    opts.requests or 6000, opts.concurrency, opts.seconds, warmup=300)
    r.rss = dict(server.peak)
    r.notes["screens_per_second"] = r.rps / 3
    moderate = await drive(f"home screen (GraphQL), {opts.latency_concurrency} connections",
                           "127.0.0.1", server.port, home_sender(city), opts.requests or 6000,
                           opts.latency_concurrency, opts.seconds, warmup=100)
    moderate.rss = dict(server.peak)
    return r, moderate


LEADERBOARD_BODY = graphql_body(operation("game.graphql", "Leaderboard"),
                                 {"scope": "GLOBAL", "period": "WEEK", "first": 10})


async def scenario_leaderboard_graphql(opts, city: City, server: Server) -> Result:
    async def send(conn: HttpConnection, i: int) -> tuple[bool, int, str | None]:
        token = city.tokens[(i * 7919) % len(city.tokens)]
        status, body = await conn.request("POST", "/graphql", {
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            LEADERBOARD_BODY)
        error = graphql_errors(status, body)
        return error is None, 1, error

    server.reset_peak()
    r = await drive("leaderboard (GraphQL)", "127.0.0.1", server.port, send,
                    opts.requests or 3000, opts.concurrency, opts.seconds, warmup=200)
    r.rss = dict(server.peak)
    return r


async def scenario_leaderboard_service(opts, city: City, requests: int | None = None) -> Result:
    """What the resolver asks Redis, without HTTP: `Leaderboards.top` + `me` + `around` on the
    GLOBAL weekly board (every player), for random players, `concurrency` at a time."""
    from redis.asyncio import Redis

    from app.leaderboards.boards import Leaderboards

    concurrency = opts.leaderboard_concurrency
    redis = Redis.from_url(opts.redis_url, decode_responses=True, max_connections=concurrency * 2)
    boards = Leaderboards(redis, TIMEZONE)
    key = boards.key("GLOBAL", "WEEK")
    members = await redis.zcard(key)
    total = requests or opts.requests or 20000
    result = Result(f"leaderboard reads ({members:,} members)")
    numbers = iter(range(total))
    rng = random.Random(7)
    deadline = time.perf_counter() + opts.seconds

    async def client() -> None:
        for _ in numbers:
            if time.perf_counter() > deadline:
                break
            pid = city.sessions[rng.randrange(len(city.sessions))][0]
            t0 = time.perf_counter()
            top = await boards.top("GLOBAL", "WEEK", 10)
            mine = await boards.me(pid, "GLOBAL", "WEEK")
            around = await boards.around(pid, "GLOBAL", "WEEK")
            result.latencies.append(time.perf_counter() - t0)
            result.count += 1
            if len(top) != min(10, members) or mine is None or not around:
                result.errors += 1

    for _ in range(200):  # warm-up
        await boards.top("GLOBAL", "WEEK", 10)
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    result.notes.update(members=members, concurrency=concurrency)
    await redis.aclose()
    return result


def partner_batch(city: City, first: int, size: int, run: str, batch_no: int) -> bytes:
    start = datetime.now(ZoneInfo(TIMEZONE)) - timedelta(hours=2, minutes=batch_no % 60)
    records = []
    for k in range(size):
        n = first + k
        kind, meters = (("metro", 12850), ("bus", 6400))[n % 2]
        records.append({"id": f"{run}-{batch_no}-{k}",
                        "subject": city.player_ids[n % len(city.player_ids)], "kind": kind,
                        "startedAt": start.isoformat(),
                        "endedAt": (start + timedelta(minutes=30)).isoformat(),
                        "distanceMeters": meters})
    return json.dumps({"records": records}).encode()


async def scenario_commute(opts, city: City, server: Server) -> tuple[Result, Result]:
    """Partner batches of 100 records for distinct players, with syncSteps calls alongside."""
    from app.credits.signatures import sign

    run = uuid.uuid4().hex[:8]
    size = opts.batch_size
    player_offset = random.Random(run).randrange(len(city.player_ids))

    async def send_batch(conn: HttpConnection, i: int) -> tuple[bool, int, str | None]:
        body = partner_batch(city, player_offset + i * size, size, run, i)
        stamp = str(int(time.time()))
        status, raw = await conn.request("POST", "/partner/v1/activities", {
            "Content-Type": "application/json", "X-Partner-Id": PARTNER_ID, "X-Timestamp": stamp,
            "X-Signature": sign(PARTNER_SECRET, stamp, body)}, body)
        if status != 200:
            return False, 0, f"HTTP {status}: {raw[:200]!r}"
        results = json.loads(raw)["results"]
        accepted = sum(r["status"] == "accepted" for r in results)
        odd = [r for r in results if r["status"] != "accepted"]
        return not odd, accepted, (json.dumps(odd[0]) if odd else None)

    steps_query = operation("credits.graphql", "SyncSteps")
    today = datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()
    base_steps = int(time.time()) % 50_000  # a later run reports more steps than an earlier one

    async def send_steps(conn: HttpConnection, i: int) -> tuple[bool, int, str | None]:
        token = city.tokens[i % len(city.tokens)]
        body = graphql_body(steps_query, {"date": today,
                                          "steps": min(99_000, base_steps + 1000 + i // len(city.tokens) * 500)})
        status, raw = await conn.request("POST", "/graphql", {
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"}, body)
        error = graphql_errors(status, raw)
        if error is None:
            payload = json.loads(raw)["data"]["syncSteps"]
            if payload["errors"]:
                error = json.dumps(payload["errors"])
        return error is None, 1, error

    # Batches alone first, with the CPU each process group spends per batch: what bounds
    # ingestion on a machine whose cores the database, the app and the client share.
    server.reset_peak()
    workers = server.worker_pids()
    before = cpu_seconds(workers)
    alone = await drive(f"partner batches of {size}, alone", "127.0.0.1", server.port,
                        send_batch, opts.batches, opts.batch_concurrency, opts.seconds)
    alone.notes["cpu_ms_per_batch"] = cpu_per_unit(before, cpu_seconds(workers), alone.count)
    alone.notes["records_per_second"] = alone.units_per_second
    alone.rss = dict(server.peak)
    offset = alone.count  # the mixed run's batches are new records for other players
    server.reset_peak()
    batches, steps = await asyncio.gather(
        drive(f"partner batches of {size}", "127.0.0.1", server.port,
              lambda conn, i: send_batch(conn, offset + i), opts.batches, opts.batch_concurrency,
              opts.seconds),
        drive("syncSteps", "127.0.0.1", server.port, send_steps, opts.requests or 2000,
              opts.steps_concurrency, opts.seconds))
    batches.rss = steps.rss = dict(server.peak)
    batches.notes["records_per_second"] = batches.units_per_second
    return alone, batches, steps


async def create_flash_item(database_url: str, stock: int, price: int) -> str:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        item_id = uuid.uuid4()
        now = datetime.now(UTC)
        await conn.execute(
            "INSERT INTO shop_item (id, kind, title, title_en, description, description_en, "
            "price_points, remaining, sold, per_player_limit, limit_period, cities, uses_codes, "
            "active, created_at, updated_at) VALUES ($1, 'PHYSICAL_GIFT', '限时抢购', 'Flash sale', "
            "'', '', $2, $3, 0, 1, 'TOTAL', '[]', false, true, $4, $4)",
            item_id, price, stock, now)
        return str(item_id)
    finally:
        await conn.close()


async def flash_outcome(database_url: str, item_id: str) -> dict:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        orders = await conn.fetchval("SELECT count(*) FROM shop_order WHERE item_id = $1",
                                     uuid.UUID(item_id))
        row = await conn.fetchrow("SELECT remaining, sold FROM shop_item WHERE id = $1",
                                  uuid.UUID(item_id))
        return {"orders_in_db": orders, "remaining": row["remaining"], "sold": row["sold"]}
    finally:
        await conn.close()


async def scenario_flash(opts, city: City, server: Server) -> Result:
    """`attempts` redemptions of one item by distinct players who can pay for it (cycling
    if there are fewer), each with its own idempotency key."""
    price = 5
    buyers = await players_with_points(opts.database_url, price, opts.attempts)
    if not buyers.sessions:
        raise SystemExit("no bench player has points left for the flash sale; regenerate the city")
    item_id = await create_flash_item(opts.database_url, opts.stock, price)
    redeem = operation("shop.graphql", "Redeem")
    run = uuid.uuid4().hex[:8]
    outcomes = {"orders": 0, "OUT_OF_STOCK": 0, "other": 0}

    async def send(conn: HttpConnection, i: int) -> tuple[bool, int, str | None]:
        token = buyers.tokens[i % len(buyers.tokens)]
        body = graphql_body(redeem, {"itemId": item_id, "quantity": 1,
                                     "idempotencyKey": f"flash-{run}-{i}"})
        status, raw = await conn.request("POST", "/graphql", {
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"}, body)
        error = graphql_errors(status, raw)
        if error is not None:
            outcomes["other"] += 1
            return False, 0, error
        payload = json.loads(raw)["data"]["redeem"]
        if payload["order"] is not None and not payload["errors"]:
            outcomes["orders"] += 1
            return True, 1, None
        codes = [e["code"] for e in payload["errors"]]
        if codes == ["OUT_OF_STOCK"]:
            outcomes["OUT_OF_STOCK"] += 1
            return True, 1, None
        outcomes["other"] += 1
        return False, 0, json.dumps(payload["errors"])

    server.reset_peak()
    r = await drive(f"flash sale ({opts.attempts:,} on stock {opts.stock})", "127.0.0.1",
                    server.port, send, opts.attempts, opts.concurrency, max(opts.seconds, 120))
    r.rss = dict(server.peak)
    db = await flash_outcome(opts.database_url, item_id)
    exact = (outcomes["orders"] == opts.stock == db["orders_in_db"] == db["sold"]
             and db["remaining"] == 0)
    r.notes.update(outcomes, **db, exact=exact, attempts_sent=r.count,
                   distinct_players=min(len(buyers.sessions), r.count))
    return r


def run(coro):
    """asyncio.run on uvloop (installed with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


# --- command line ----------------------------------------------------------------------------

def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--latency-concurrency", type=int, default=4,
                        help="connections of the home screen's moderate-load run")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="concurrent connections (home, flash sale, leaderboard)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per scenario (default: per scenario)")
    parser.add_argument("--seconds", type=float, default=60, help="time limit per scenario")
    parser.add_argument("--leaderboard-concurrency", type=int, default=4,
                        help="concurrent reads of the app's Leaderboards and of the Redis floor")
    parser.add_argument("--batches", type=int, default=100, help="commute: partner batches")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    parser.add_argument("--steps-concurrency", type=int, default=4)
    parser.add_argument("--attempts", type=int, default=10_000, help="flash sale attempts")
    parser.add_argument("--stock", type=int, default=100)


def print_result(r: Result) -> None:
    print(r.line(), flush=True)
    if r.notes:
        print("    " + ", ".join(f"{k}: {v:,.1f}" if isinstance(v, float) else f"{k}: {v}"
                                 for k, v in r.notes.items()), flush=True)
    for sample in r.error_samples[:3]:
        print(f"    error: {sample}", flush=True)


async def fresh_statistics(database_url: str) -> bool:
    """ANALYZE the database when its server runs without autovacuum (as this machine's
    does), as autovacuum would have: tables the scenarios grow (partner records, daily
    totals) otherwise keep the statistics of when they were empty, and one unique-key
    lookup of a batch's 100 record ids becomes a scan (15 ms instead of 0.5 ms)."""
    import asyncpg

    from bench.generate_city import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        if await conn.fetchval("SHOW autovacuum") == "on":
            return False
        await conn.execute("ANALYZE")
        return True
    finally:
        await conn.close()


async def run_scenarios(opts, names: list[str]) -> dict[str, Result]:
    city = await load_city(opts.database_url, max(opts.attempts, 10_000), 1_000_000)
    if await fresh_statistics(opts.database_url):
        print("autovacuum is off on this server: ANALYZEd the bench database before the scenarios")
    workdir = tempfile.mkdtemp(prefix="carbon-city-")
    results: dict[str, Result] = {}
    if "leaderboard" in names:
        results["leaderboard_service"] = await scenario_leaderboard_service(opts, city)
        print_result(results["leaderboard_service"])
    server = start_app(opts, workdir)
    try:
        await server.wait_ready()
        if "home" in names:
            results["home"], results["home_moderate"] = await scenario_home(opts, city, server)
            print_result(results["home"])
            print_result(results["home_moderate"])
        if "leaderboard" in names:
            results["leaderboard_graphql"] = await scenario_leaderboard_graphql(opts, city, server)
            print_result(results["leaderboard_graphql"])
        if "commute" in names:
            (results["commute_alone"], results["commute_batches"],
             results["commute_steps"]) = await scenario_commute(opts, city, server)
            print_result(results["commute_alone"])
            print_result(results["commute_batches"])
            print_result(results["commute_steps"])
        if "flash" in names:
            results["flash"] = await scenario_flash(opts, city, server)
            print_result(results["flash"])
            print(f"    exact: {'yes' if results['flash'].notes['exact'] else 'no'}")
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", default="all",
                        choices=["home", "commute", "flash", "leaderboard", "all"])
    add_options(parser)
    opts = parser.parse_args()
    names = ["home", "leaderboard", "commute", "flash"] if opts.scenario == "all" else [opts.scenario]
    run(run_scenarios(opts, names))


if __name__ == "__main__":
    main()
