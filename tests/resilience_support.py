"""Helpers of the fault-resilience tests: a real `carbon-planet serve` process on the test
database that can be SIGKILLed and started again, tokens for it, and waiting loops.

Tests never time anything: the deadlines here only stop a test that would otherwise hang.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from app.accounts.models import Player
from app.auth.sessions import Sessions
from app.ledger.service import Asset, credit, post
from app.settings import Settings
from tests.conftest import ENGLISH

ROOT = Path(__file__).resolve().parents[1]
COMMAND = str(Path(sys.executable).parent / "carbon-planet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The test run's database, Redis, secret and partners, for a server in its own process."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CARBON_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({
        "PYTHONPATH": str(ROOT),
        "CARBON_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "CARBON_SECRET_KEY": settings.secret_key,
        "CARBON_PARTNERS": json.dumps([p.model_dump() for p in settings.partners]),
        "CARBON_PAYOUT_WORKER": "false",
        "CARBON_LOG_JSON": "true",
        "CARBON_GRAPHIQL": "false",
    })
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    env.update(extra)
    return env


class ServerProcess:
    """`carbon-planet serve` (one uvicorn worker, in-process: SIGKILL kills the server itself)."""

    def __init__(self, settings: Settings, workdir: Path, **env: str) -> None:
        self.env = server_env(settings, **env)
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.starts}.log"

    def log_text(self) -> str:
        return "\n".join((self.workdir / f"server-{n}.log").read_text(errors="replace")
                         for n in range(1, self.starts + 1))

    async def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        self.port = free_port()
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [COMMAND, "serve", "--port", str(self.port)], cwd=self.workdir, env=self.env,
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                assert self.process.poll() is None, "server exited:\n" + self.log_text()
                try:
                    if (await http.get(f"{self.base}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not start:\n" + self.log_text()
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, open transactions are cut where they stand."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        assert self.process.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


async def new_players(settings: Settings, count: int, prefix: str, points_each: int = 0,
                      city: str | None = "shenzhen") -> list[tuple[str, str]]:
    """(player id, access token) for `count` new players, each funded with `points_each`.

    Tokens are issued with the shared secret and stored sessions, so the server process
    accepts them exactly as it accepts a login's."""
    sessions = Sessions(settings)
    players = [Player(nickname=f"{prefix}{i}", city=city, roles=["player"]) for i in range(count)]
    await Player.bulk_create(players)
    by_name = {p.nickname: p for p in await Player.filter(nickname__startswith=prefix)}
    out = []
    for i in range(count):
        player = by_name[f"{prefix}{i}"]
        if points_each:
            await post("TEST_CREDIT", f"fund:{player.id}",
                       credit(str(player.id), {Asset.CARBON_POINT: points_each}))
        out.append((str(player.id), (await sessions.start(player, "test")).access_token))
    return out


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str,
                     seconds: float = 60, every: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(every)


async def gql_post(http: httpx.AsyncClient, query: str, variables: dict | None = None,
                   token: str | None = None) -> httpx.Response:
    headers = {**ENGLISH, **({"Authorization": f"Bearer {token}"} if token else {})}
    return await http.post("/graphql", json={"query": query, "variables": variables or {}},
                           headers=headers)


class TcpProxy:
    """A TCP relay in front of a Redis server. `down()` cuts every connection and refuses new
    ones, as a Redis process that stopped; `up()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, upstream_writer))
        for task in (asyncio.create_task(self._pipe(client_reader, upstream_writer)),
                     asyncio.create_task(self._pipe(upstream_reader, client_writer))):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                  reuse_address=True)

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()  # a reset, as when the Redis process goes away
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0)


async def board_snapshot(redis) -> dict[str, tuple[list, bool]]:
    """Every `lb:*` key: its members with scores, and whether it expires (TTL values aside)."""
    keys = sorted([k async for k in redis.scan_iter(match="lb:*", count=1000)])
    return {k: (await redis.zrange(k, 0, -1, withscores=True), await redis.ttl(k) > 0)
            for k in keys}


async def run_command(*args: str, env: dict[str, str]) -> tuple[int, str]:
    """A `carbon-planet` command, without blocking this event loop (a TcpProxy may run on it)."""
    process = await asyncio.create_subprocess_exec(
        COMMAND, *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(errors="replace")
